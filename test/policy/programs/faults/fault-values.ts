/** Shaped like an Anthropic key; not one. Shared by the fault program and its test. */
export const fakeApiKey = `sk-ant-${"T3st".repeat(10)}`;
/** A proxy URL with a user and password in it; the password is not a real one. */
export const proxyWithCredentials = "http://svc-agent:hunter2hunter2@proxy.corp.example.com:3128";
