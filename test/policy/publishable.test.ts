/**
 * The policy pack is published on its own (`pulumi policy publish policies/`
 * uploads that folder, and the service installs the dependencies its
 * package.json names), so nothing in it may reach outside the folder or use
 * a package it does not declare: at run time a `dependencies` entry, for
 * types only (`import type`) a `devDependencies` one. The names the program
 * and the pack share live in the pack for that reason (policies/lib/names.ts).
 */
import { readdirSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const packDir = path.resolve(__dirname, "../../policies");

function sourcesOf(dir: string): string[] {
    return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
        const full = path.join(dir, e.name);
        if (e.isDirectory()) return e.name === "node_modules" ? [] : sourcesOf(full);
        return /\.(ts|js|mjs|cjs)$/.test(e.name) ? [full] : [];
    });
}

/** Every module specifier a file imports or re-exports, statically or dynamically, and whether only for its types. */
function specifiers(source: string): { spec: string; typeOnly: boolean }[] {
    const found: { spec: string; typeOnly: boolean }[] = [];
    const patterns = [
        /\b(?:import|export)\b([^'";]*?)\bfrom\s*["']([^"']+)["']/g,
        /\bimport()\s*["']([^"']+)["']/g,
        /\b(?:import|require)()\s*\(\s*["']([^"']+)["']\s*\)/g,
    ];
    for (const re of patterns) for (const m of source.matchAll(re)) found.push({ spec: m[2] as string, typeOnly: /^\s*type\b/.test(m[1] ?? "") });
    return found;
}

/** `@scope/name/sub` -> `@scope/name`, `name/sub` -> `name`. */
function packageOf(spec: string): string {
    const parts = spec.split("/");
    return spec.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] as string);
}

describe("the policy pack stands on its own", () => {
    const manifest = JSON.parse(readFileSync(path.join(packDir, "package.json"), "utf8")) as {
        dependencies?: Record<string, string>;
        devDependencies?: Record<string, string>;
    };
    const runtime = new Set(Object.keys(manifest.dependencies ?? {}));
    const typesOnly = new Set([...runtime, ...Object.keys(manifest.devDependencies ?? {})]);
    const files = sourcesOf(packDir);

    it("finds the pack's sources", () => {
        expect(files.map((f) => path.relative(packDir, f))).toEqual(expect.arrayContaining(["index.ts", "lib/names.ts", "lib/policy.ts"]));
    });

    it("imports nothing from outside policies/ and only the packages policies/package.json declares", () => {
        const problems: string[] = [];
        for (const file of files) {
            const rel = path.relative(packDir, file);
            for (const { spec, typeOnly } of specifiers(readFileSync(file, "utf8"))) {
                if (spec.startsWith(".")) {
                    const target = path.resolve(path.dirname(file), spec);
                    if (path.relative(packDir, target).startsWith("..")) problems.push(`${rel} imports ${spec}, outside the pack`);
                } else if (!spec.startsWith("node:") && !builtinModules.includes(spec) && !(typeOnly ? typesOnly : runtime).has(packageOf(spec))) {
                    problems.push(
                        `${rel} imports ${spec}${typeOnly ? " (types)" : ""}, which policies/package.json does not declare${typeOnly ? " (dependencies or devDependencies)" : " in dependencies"}`,
                    );
                }
            }
        }
        expect(problems).toEqual([]);
    });

    it("declares what its PulumiPolicy.yaml runtime loads (nodeargs --import <package>)", () => {
        const project = parse(readFileSync(path.join(packDir, "PulumiPolicy.yaml"), "utf8")) as { runtime?: { options?: { nodeargs?: string } } };
        const imported = [...(project.runtime?.options?.nodeargs ?? "").matchAll(/--(?:import|require)[= ]+(\S+)/g)].map((m) => packageOf(m[1] as string));
        expect(imported).toEqual(["tsx"]);
        for (const name of imported) expect(runtime.has(name), `${name} in policies/package.json dependencies`).toBe(true);
    });
});
