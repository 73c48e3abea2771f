import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrationTag, tierFloorTag } from "../../policies/tier-state";
import { openStack, runOperation } from "../../runtime/engine/stack-runner";
import { type EngineSandbox, engineSandbox } from "../helpers/engine";

let sandbox: EngineSandbox;
beforeAll(async () => {
    sandbox = await engineSandbox("tier-tags");
});
afterAll(() => sandbox.cleanup());

describe("every run records the tier state the policy pack reads", () => {
    it("a preview records nothing yet; a successful up sets the tier floor", async () => {
        await runOperation("render", "preview");
        expect((await (await openStack("render")).listTags())[tierFloorTag]).toBeUndefined();
        await runOperation("render", "up");
        const tags = await (await openStack("render")).listTags();
        expect(tags[tierFloorTag]).toBe("kubernetes");
        expect(tags[migrationTag]).toBeUndefined();
        await runOperation("render", "destroy");
    });
});
