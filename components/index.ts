export { Platform, type PlatformArgs } from "./platform";
export { AppRuntime, type AppRuntimeArgs } from "./runtime/app-runtime";
export { SecretsBackend, type SecretsBackendArgs, defaultStoreNamespaceRegexes } from "./secrets/secrets-backend";
export { names, commonLabels } from "./names";
