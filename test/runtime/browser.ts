/**
 * Debian's chromium driven by playwright-core, for the console's browser
 * tests (scripts/browser.sh installs it; no browser is ever downloaded).
 * One persistent profile per test file; each user signs in in a context of
 * their own, so two users can work side by side.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import * as path from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { projectRoot } from "../../runtime/engine/project";

/** Where every browser test leaves its screenshots. */
export const shotsDir = path.join(projectRoot, "test-results");

function chromiumPath(): string {
    const wanted = process.env.X1_CHROMIUM ?? "/usr/bin/chromium";
    if (existsSync(wanted)) return wanted;
    return execFileSync("bash", [path.join(projectRoot, "scripts", "browser.sh")], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
        timeout: 900_000,
    }).trim();
}

const scriptErrors = new WeakMap<Page, string[]>();

/** Uncaught script errors of the console in this page so far: a test expects none. */
export function pageErrors(page: Page): string[] {
    return scriptErrors.get(page) ?? [];
}

export interface ConsoleBrowser {
    browser: Browser;
    /** A new window (its own session storage) signed in with `token`, on the console of `url`. */
    signedIn(url: string, token: string): Promise<Page>;
    /** A full-page screenshot in test-results/<name>.png; returns its path. */
    shot(page: Page, name: string): Promise<string>;
    close(): Promise<void>;
}

export async function openBrowser(): Promise<ConsoleBrowser> {
    const browser = await chromium.launch({
        executablePath: chromiumPath(),
        headless: true,
        args: [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    });
    mkdirSync(shotsDir, { recursive: true });
    return {
        browser,
        async signedIn(url, token) {
            const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
            const page = await context.newPage();
            const errors: string[] = [];
            page.on("pageerror", (err) => errors.push(err.message));
            scriptErrors.set(page, errors);
            await page.goto(`${url}/console/`);
            await page.getByLabel("Bearer token").fill(token);
            await page.getByRole("button", { name: "Sign in" }).click();
            await page.locator("#identity").waitFor({ state: "visible", timeout: 30_000 });
            return page;
        },
        async shot(page, name) {
            const file = path.join(shotsDir, `${name}.png`);
            await page.screenshot({ path: file, fullPage: true });
            return file;
        },
        async close() {
            await browser.close();
        },
    };
}
