/**
 * A click whose request reached the deployer but whose answer was lost must
 * not queue a second run: the console asks again by itself with the same
 * Idempotency-Key and gets the first run back. In Debian's chromium
 * (playwright-core), against the real deployer over HTTP, through a
 * loopback proxy (lossy-proxy.ts) that forwards the Preview request, reads
 * the deployer's answer and then breaks the browser's connection without
 * answering: the loss is certain and happens after the deployer acted.
 *
 * Simulated, and why: nothing but the network fault. The queue is not
 * worked (runWorker: false): the run stays queued, which is all the
 * question needs, and no engine runs.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConsoleBrowser, openBrowser, pageErrors } from "./browser";
import { call, type Service, startService, tempStackNames } from "./helpers";
import { type LossyProxy, lossyProxy } from "./lossy-proxy";

describe("the console after a lost answer (a proxy breaks the connection once the deployer has answered)", () => {
    let svc: Service;
    let proxy: LossyProxy;
    let browser: ConsoleBrowser;
    let operator: string;
    const [stack] = tempStackNames("uila", 1) as [string];

    beforeAll(async () => {
        svc = await startService({ database: { kind: "embedded" }, runWorker: false });
        const created = await call(svc.url, "POST", "/v1/stacks", { token: svc.adminToken, body: { name: stack, from: "render", team: "ops" } });
        expect(created.status, JSON.stringify(created.body)).toBe(201);
        operator = (await call(svc.url, "POST", "/v1/tokens", { token: svc.adminToken, body: { name: "ops-operator", teams: { ops: "operator" } } })).body
            .token as string;
        proxy = await lossyProxy(svc.url, (method, url) => method === "POST" && url === `/v1/stacks/${stack}/runs`);
        browser = await openBrowser();
    });

    afterAll(async () => {
        await browser?.close();
        await proxy?.close();
        await svc?.close();
    });

    it("asks again with the same key, shows the first run, and the deployer holds one run", async () => {
        const page = await browser.signedIn(proxy.url, operator);
        await page.goto(`${proxy.url}/console/#/stacks/${stack}`);
        const preview = page.getByRole("button", { name: "Preview" });
        await preview.click();

        // The deployer queued the run and answered; the browser got a broken connection instead.
        const lost = await proxy.lost;
        expect(lost.status, lost.body).toBe(202);
        const first = JSON.parse(lost.body!).run.id as string;

        // The console asks again by itself, with the same key; meanwhile it says so and the button waits.
        const again = await proxy.repeated;
        expect(again.idempotencyKey).toBe(lost.idempotencyKey);
        expect(lost.idempotencyKey).toMatch(/^console-[0-9a-f]{32}$/);
        expect(await page.getByRole("status").filter({ hasText: "No answer" }).textContent()).toBe(
            `No answer from the deployer to POST /v1/stacks/${stack}/runs (attempt 1): asking again in 1 s with the same Idempotency-Key, so it acts once`,
        );
        expect(await preview.isDisabled()).toBe(true);
        expect(await preview.getAttribute("aria-busy")).toBe("true");
        expect(await page.textContent("#stack-error")).toBe("");
        const waiting = await browser.shot(page, "console-lost-answer-retry");

        proxy.release();
        // The repeat gets the first request's run: the page opens it.
        await page.waitForURL(new RegExp(`/runs/${first}$`), { timeout: 60_000 });
        // 200, not 202: the deployer says it queued nothing new and answers the run that key made.
        expect(again.status).toBe(200);
        expect(JSON.parse(again.body!).run.id).toBe(first);
        await expect.poll(() => page.textContent("#run-title .badge"), { timeout: 60_000 }).toBe("queued");
        expect(await page.textContent("#net-status")).toBe("");
        expect(await page.textContent("#stack-error")).toBe("");
        expect(proxy.seen).toHaveLength(2);

        // The deployer holds exactly one run, the first.
        const runs = (await call(svc.url, "GET", `/v1/runs?stack=${stack}&limit=100`, { token: svc.adminToken })).body.runs as {
            id: string;
            operation: string;
        }[];
        expect(runs.map((r) => `${r.operation} ${r.id}`)).toEqual([`preview ${first}`]);
        const shot = await browser.shot(page, "console-lost-answer");
        expect(pageErrors(page)).toEqual([]);
        console.log(`[console] lost answer: key ${lost.idempotencyKey} sent twice, one run ${first}; ${waiting}, ${shot}`);
    });
});
