import { App, type AppProps, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { resolveSettingsFromContext, settingsAsProps } from "./settings.ts";
import { stackNameFor, WebhooksStack } from "./stack.ts";

/**
 * The CDK app: one stack per stage, named `VoipbinWebhooks-<stage>`, configured from context
 * (`-c stage=prod -c retrySchedule=5,300,…`, or `cdk.json`), checked by cdk-nag's AwsSolutions
 * pack through CDK's policy-validation API. The stack is environment-agnostic (no account or region
 * lookups), so it synthesizes offline; `cdk deploy` takes the account and region from the credentials.
 */
export function createApp(props: AppProps = {}): { app: App; stack: WebhooksStack } {
  const app = new App(props);
  const settings = resolveSettingsFromContext(app.node.getAllContext());
  const stack = new WebhooksStack(app, stackNameFor(settings.stage), settingsAsProps(settings));
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}
