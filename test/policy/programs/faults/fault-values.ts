/** Shaped like an Anthropic key; not one. Shared by the fault program and its test. */
export const fakeApiKey = `sk-ant-${"T3st".repeat(10)}`;
