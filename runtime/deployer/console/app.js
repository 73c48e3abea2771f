// The console's shell: sign-in and sign-out, who is signed in, the sections
// and the hash routes that pick a view. Each view renders into <main> and
// returns what stops it (an event stream, a poll) when the route changes.
import { ApiError, forgetToken, get, keepToken, session } from "./api.js";
import { approvalsView, pendingApprovals } from "./approvals.js";
import { auditView, tokensView } from "./admin.js";
import { byId, el, fill } from "./dom.js";
import { adminOnly, describeMe, identity, loadMe } from "./me.js";
import { stackView } from "./stack.js";
import { stacksView } from "./stacks.js";
import { webhooksView } from "./webhooks.js";

let stopView = () => undefined;

/** Route patterns to views; the first that matches wins. */
const routes = [
    [/^#\/stacks\/([^/]+)\/runs\/([0-9a-f-]{36})$/, (m, main) => stackView(main, decodeURIComponent(m[1]), "runs", m[2]), "stacks"],
    [/^#\/stacks\/([^/]+)(?:\/([a-z]+))?$/, (m, main) => stackView(main, decodeURIComponent(m[1]), m[2] ?? "runs"), "stacks"],
    [/^#\/approvals(?:\/([0-9a-zA-Z-]+))?$/, (m, main) => approvalsView(main, m[1]), "approvals"],
    [/^#\/webhooks$/, (_m, main) => webhooksView(main), "webhooks"],
    [/^#\/audit$/, (_m, main) => auditView(main), "audit"],
    [/^#\/tokens$/, (_m, main) => tokensView(main), "tokens"],
    [/^(#\/?)?$/, (_m, main) => stacksView(main), "stacks"],
];

function route() {
    if (!session.token) return;
    stopView();
    stopView = () => undefined;
    const main = byId("main");
    fill(main);
    const hash = location.hash;
    for (const [pattern, view, section] of routes) {
        const m = pattern.exec(hash);
        if (!m) continue;
        for (const a of document.querySelectorAll("[data-nav]")) {
            if (a.dataset.nav === section) a.setAttribute("aria-current", "page");
            else a.removeAttribute("aria-current");
        }
        stopView = view(m, main) ?? (() => undefined);
        return;
    }
    main.append(el("section", { class: "card" }, el("h1", {}, "Not found"), el("p", {}, "No such page. ", el("a", { href: "#/" }, "Back to the stacks"))));
}

function showSignedIn(me) {
    byId("signin").hidden = true;
    byId("main").hidden = false;
    byId("nav").hidden = false;
    byId("identity").hidden = false;
    const who = byId("who");
    if (me) {
        const d = describeMe(me);
        fill(who, el("span", { class: "sr" }, "Signed in as "), el("b", {}, d.subject), " · ", d.detail);
    } else {
        who.textContent = "signed in (this deployer does not report identities: GET /v1/me is missing)";
    }
    // Admin pages are hidden from those they would only refuse.
    for (const section of ["audit", "tokens"]) document.querySelector(`[data-nav="${section}"]`).hidden = adminOnly(section) !== null;
    pendingApprovals().then(
        (n) => {
            byId("nav-approvals").textContent = n ? String(n) : "";
            byId("nav-approvals").setAttribute("aria-label", n ? `${n} pending` : "");
        },
        () => undefined,
    );
}

function showSignIn(message) {
    stopView();
    stopView = () => undefined;
    forgetToken();
    fill(byId("main"));
    byId("main").hidden = true;
    byId("nav").hidden = true;
    byId("identity").hidden = true;
    byId("signin").hidden = false;
    byId("signin-error").textContent = message ?? "";
    byId("token").value = "";
    byId("token").focus();
}

/** Checks the token: who it is (GET /v1/me), or, on a deployer without that route, that it reads the stack list. */
async function start() {
    let me = null;
    try {
        me = await loadMe();
    } catch (err) {
        if (!(err instanceof ApiError && err.noRoute)) throw err;
        await get("/v1/stacks");
    }
    showSignedIn(me ?? identity());
    route();
}

session.onExpired = (message) => showSignIn(`Signed out: ${message}`);
session.onRetry = (message) => {
    byId("net-status").textContent = message ?? "";
};

byId("signin-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const token = byId("token").value.trim();
    if (!token) return;
    keepToken(token);
    try {
        await start();
    } catch (err) {
        showSignIn(err.message);
    }
});
byId("signout").addEventListener("click", () => showSignIn("Signed out. The token is forgotten in this tab."));
window.addEventListener("hashchange", route);

if (session.token) start().catch((err) => showSignIn(err.message));
else showSignIn();
