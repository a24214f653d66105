/**
 * Limits of the AWS services this system runs on, in one place (docs: ../shared/aws-facts.md lists the
 * sources). Domain code may depend on them because they shape its decisions (how long one sleep can be),
 * but nothing here talks to AWS.
 */

/**
 * SQS cannot hide a message for longer than 12 hours, counted from the receive that returned it
 * (SQS API Reference, ChangeMessageVisibility; SQS Developer Guide, "Amazon SQS visibility timeout").
 */
export const MAX_VISIBILITY_TIMEOUT_SECONDS = 43_200;

/**
 * The longest a message may be delayed when it is sent (`DelaySeconds`, 0–900; SQS API Reference,
 * SendMessage). Delayed messages are backlog, not in flight (SQS Developer Guide, "Amazon SQS queue
 * quotas"): a wait handed back to SQS this way does not count toward the ~120,000 in-flight quota.
 */
export const MAX_DELAY_SECONDS = 900;
