import { benchFairness } from "./bench/fairness.ts";
const rate = Number(process.argv[2]);
const r = await benchFairness({ healthyRate: rate, healthyCustomers: 4, neighbourShare: 0.2, warmupS: 10, measureS: 15, drainTimeoutMs: 60000, progress: (m) => console.error(m) });
const { runs, ...rest } = r; console.log(JSON.stringify(rest));
