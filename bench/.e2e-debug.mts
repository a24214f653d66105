import { benchE2e } from "./e2e.ts";
const dc = process.argv[2] ? Number(process.argv[2]) : undefined;
const r = await benchE2e({ rate: 100, fanout: 3, durationS: 10, warmupS: 2, customers: 20, maxRateSteps: [], stepS: 3, drainTimeoutMs: 90000, stallMs: 5000, ...(dc ? { deliveryConcurrency: dc } : {}), progress: (m) => console.error(m) });
console.log(JSON.stringify({ lat: r.latency_ms, dps: r.fixed_rate_deliveries_per_s, cpu: r.cpu_ms_per_delivery_by_process, cores: r.process_cpu_cores, load: r.load_average, inv: r.invocations, req: r.usage.aws_requests, cost: r.cost.usd_per_million_deliveries, lines: Object.fromEntries(Object.entries(r.cost.breakdown).map(([k, v]) => [k, v.usd_per_million_deliveries])) }, null, 1));
