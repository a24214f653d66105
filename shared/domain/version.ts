/** Kept equal to package.json's version by a unit test; sent as `user-agent: voipbin-webhooks/<version>`. */
export const SERVICE_VERSION = "0.1.0";
export const USER_AGENT = `voipbin-webhooks/${SERVICE_VERSION}`;
