/**
 * The `--aws [--stage <stage>] [--region <name>]` options an ops subcommand shares: which stack it
 * acts on. One reading of them, with every problem reported with the rest of the command line's.
 */
export const AWS_TARGET_OPTIONS = {
  aws: { type: "boolean" },
  stage: { type: "string" },
  region: { type: "string" },
} as const;

export interface AwsTarget {
  readonly aws: boolean;
  readonly stage: string;
  readonly region: string | undefined;
}

export function awsTargetOf(
  values: { readonly aws?: boolean; readonly stage?: string; readonly region?: string },
  env: NodeJS.ProcessEnv,
  problems: string[],
): AwsTarget {
  const aws = values.aws === true;
  if (!aws && (values.stage !== undefined || values.region !== undefined))
    problems.push("--stage and --region apply to --aws (the local stack has one set of names)");
  if (values.stage !== undefined && !/^[a-z][a-z0-9-]{0,19}$/.test(values.stage))
    problems.push(`--stage "${values.stage}" is not a stage name (lowercase letters, digits and '-')`);
  const region = values.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (aws) {
    for (const variable of ["SQS_ENDPOINT", "DYNAMODB_ENDPOINT"]) {
      if (env[variable]) problems.push(`--aws talks to AWS itself: unset ${variable}, or drop --aws`);
    }
    if (region === undefined)
      problems.push("--aws needs a region: --region, AWS_REGION or AWS_DEFAULT_REGION");
  }
  return { aws, stage: values.stage ?? "prod", region };
}
