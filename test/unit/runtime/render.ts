/**
 * Renders the platform under mocks and picks out what the runtime tests look
 * at: objects by kind and name, pod templates and their containers.
 */
import { Platform } from "../../../components";
import type { StackConfig, StackConfigInput } from "../../../stacks/schema";
import { type RegisteredResource, ofKind, resetRegistered, settled, stackConfig } from "../../helpers/mocks";

/** Everything the platform registers for this config (a fresh list each call). */
export async function render(config: Partial<StackConfigInput> | StackConfig = {}): Promise<RegisteredResource[]> {
    resetRegistered();
    const validated = "storeName" in ((config as StackConfig).secrets ?? {}) ? (config as StackConfig) : stackConfig(config as Partial<StackConfigInput>);
    new Platform("x1agent", { config: validated });
    return [...(await settled())];
}

/** The one object of a kind with this metadata.name (and namespace, when given). */
export function named(all: RegisteredResource[], kind: string, name: string, namespace?: string): RegisteredResource {
    const found = ofKind(all, kind).filter((r) => r.inputs.metadata?.name === name && (namespace === undefined || r.inputs.metadata?.namespace === namespace));
    if (found.length !== 1) throw new Error(`expected one ${kind} ${namespace ?? "*"}/${name}, found ${found.length}`);
    return found[0]!;
}

export interface PodTemplateOf {
    /** `Deployment/x1agent-api`, `CronJob/x1agent-backup-postgres`, ... */
    owner: string;
    kind: "Deployment" | "CronJob";
    template: any;
}

/** The pod template of every Deployment and CronJob. */
export function podTemplates(all: RegisteredResource[]): PodTemplateOf[] {
    return [
        ...ofKind(all, "Deployment").map((d) => ({
            owner: `Deployment/${d.inputs.metadata.name}`,
            kind: "Deployment" as const,
            template: d.inputs.spec.template,
        })),
        ...ofKind(all, "CronJob").map((c) => ({
            owner: `CronJob/${c.inputs.metadata.name}`,
            kind: "CronJob" as const,
            template: c.inputs.spec.jobTemplate.spec.template,
        })),
    ];
}

/** The pod template of one Deployment. */
export function deploymentTemplate(all: RegisteredResource[], name: string): any {
    return named(all, "Deployment", name).inputs.spec.template;
}

/** A container's env as name -> EnvVar. */
export function envOf(container: any): Record<string, any> {
    return Object.fromEntries((container.env ?? []).map((e: any) => [e.name, e]));
}

/** An age public key for configs that need one (not a secret: a recipient). */
export const ageRecipient = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
