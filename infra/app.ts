import { createApp } from "./create-app.ts";

// Entry point of `cdk synth|diff|deploy` (cdk.json runs it with tsx).
createApp().app.synth();
