/**
 * The x1agent CrossGuard policy pack. Run it with a preview or up:
 *   pulumi preview --policy-pack policies            (language host with RunPlugin)
 *   pulumi preview --policy-pack policies/run-pack   (any language host; see run-pack)
 *   npm run policy:check -- --stack <name>           (preview + PR report)
 * Each policy's enforcement level and config can be overridden with
 * --policy-pack-config (see docs/policies.md).
 */
import { PolicyPack } from "@pulumi/policy";
import { allPolicies } from "./rules";

new PolicyPack("x1agent", {
    description: "x1agent platform: secrets tier upgrades, secret scoping, no plaintext secrets, production checklist.",
    policies: allPolicies(),
});
