import { readFileSync } from "node:fs";
import { type App, CfnElement, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import type { IConstruct } from "constructs";
import { createApp } from "../../infra/create-app.ts";
import type { WebhooksStack } from "../../infra/stack.ts";

/** cdk.json, as the CLI reads it: the app command and the context (feature flags) every synth gets. */
export const CDK_JSON = JSON.parse(readFileSync(new URL("../../cdk.json", import.meta.url), "utf8")) as {
  readonly app: string;
  readonly context: Readonly<Record<string, unknown>>;
};

export interface SynthesizedApp {
  readonly app: App;
  readonly stack: WebhooksStack;
  readonly template: Template;
  /** The cloud assembly directory (template, assets, validation report). */
  readonly assemblyDir: string;
}

/**
 * Builds the app exactly as `cdk synth` would (cdk.json context plus `context`), synthesizes it —
 * which runs the cdk-nag validation plugin and throws on any unacknowledged error — and returns the
 * stack's template.
 *
 * `bundle: false` skips esbuild (CDK's own `aws:cdk:bundling-stacks` switch, as `cdk deploy -e` uses):
 * for variants of the stack whose bundles would be identical to the main synth's.
 */
export function synthesize(
  context: Record<string, unknown> = {},
  options: { bundle?: boolean } = {},
): SynthesizedApp {
  const { app, stack } = createApp({
    context: {
      ...CDK_JSON.context,
      ...(options.bundle === false ? { "aws:cdk:bundling-stacks": [] } : {}),
      ...context,
    },
  });
  const assembly = app.synth();
  return { app, stack, template: Template.fromStack(stack), assemblyDir: assembly.directory };
}

/** A template resource; `Properties` is `{}` when the template has none. */
export type Resource = { readonly Type: string; readonly Properties: Record<string, unknown> } & Record<
  string,
  unknown
>;

function normalised([id, resource]: [
  string,
  Omit<Resource, "Properties"> & { Properties?: Record<string, unknown> },
]) {
  return [id, { ...resource, Properties: resource.Properties ?? {} }] as [string, Resource];
}

/** Every resource of a type, with its logical id. */
export function resourcesOfType(template: Template, type: string): [string, Resource][] {
  return Object.entries(template.findResources(type) as Record<string, Resource>).map(normalised);
}

/** The only resource of a type matching the properties. */
export function onlyResource(template: Template, type: string, props: Record<string, unknown> = {}) {
  const found = Object.entries(
    template.findResources(type, { Properties: props }) as Record<string, Resource>,
  );
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  const [entry] = found;
  if (entry === undefined) throw new Error("unreachable");
  return { logicalId: entry[0], resource: entry[1] };
}

/** The logical id of an L2 construct's CloudFormation resource. */
export function logicalIdOf(construct: IConstruct): string {
  const resource = construct.node.defaultChild;
  if (!CfnElement.isCfnElement(resource))
    throw new Error(`${construct.node.path} has no CloudFormation resource`);
  return Stack.of(construct).getLogicalId(resource);
}

/** `{ "Fn::GetAtt": [id, "Arn"] }` */
export const arnOf = (logicalId: string) => ({ "Fn::GetAtt": [logicalId, "Arn"] });
/** `{ Ref: id }` */
export const refTo = (logicalId: string) => ({ Ref: logicalId });
