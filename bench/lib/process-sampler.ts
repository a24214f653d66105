import { readFileSync } from "node:fs";
import type { HeapInfo } from "node:v8";
import type { LocalChildProcess } from "../../local/stack.ts";

/** The process running the stack: this one (the stack in process) or the bench's child running it. */
export interface StackHost {
  readonly pid: number;
  /** Its process.memoryUsage() and process.cpuUsage(), as it measures them. */
  usage(): Promise<{ memory: NodeJS.MemoryUsage; cpu: NodeJS.CpuUsage }>;
}

/** This process as the stack's host (the stack started in process). */
export const THIS_PROCESS: StackHost = {
  pid: process.pid,
  usage: async () => ({ memory: process.memoryUsage(), cpu: process.cpuUsage() }),
};

/** One sample of this process and of the stack's child processes. */
interface Sample {
  readonly atMs: number;
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
  readonly arrayBuffers: number;
  readonly childrenRss: number;
  /** The worker threads' V8 heaps (physical size), summed. */
  readonly workersHeap: number;
  /** RSS backed by files (the node binary's and libraries' pages), from /proc; 0 elsewhere. */
  readonly rssFile: number;
}

export interface ProcessMemory {
  /** Peak RSS of the process running the stack (the functions, the stand-ins, the local SQS's worker). */
  readonly rss_mb: number;
  /** At this process's RSS peak: the V8 heap in use, and off-heap memory (Buffers and other external). */
  readonly heap_used_mb_at_peak: number;
  readonly off_heap_mb_at_peak: number;
  /**
   * Where the rest of the RSS at the peak is: the main thread's V8 heap as committed (used plus
   * what V8 keeps for growth and garbage not yet collected), the worker threads' heaps (the local
   * SQS's), and the pages of the node binary and libraries. What remains is native memory (SQLite,
   * the allocator's arenas, the threads' stacks).
   */
  readonly heap_total_mb_at_peak: number;
  readonly worker_heaps_mb_at_peak: number;
  readonly file_backed_mb_at_peak: number;
  /** Peak RSS of the stack's child processes (dynalite), summed. */
  readonly children_rss_mb: number;
  /** RSS at the middle and at the end of the measured phase: this process, and the children. */
  readonly rss_mb_middle: number;
  readonly rss_mb_end: number;
  readonly children_rss_mb_middle: number;
  readonly children_rss_mb_end: number;
  /** end / middle − 1 for this process (the flatness the goal asks for). */
  readonly rss_growth_middle_to_end: number;
  readonly samples: number;
}

const MB = 1024 ** 2;
const round = (n: number) => Math.round(n * 10) / 10;

/**
 * Samples memory every `intervalMs` (this process's memoryUsage, the children's over IPC) while a
 * phase runs; `mark("end")` notes the end of the phase proper (before draining).
 */
export function sampleProcesses(
  host: StackHost,
  children: readonly LocalChildProcess[],
  workerHeaps: () => Promise<Record<string, HeapInfo>> = async () => ({}),
  intervalMs = 250,
): { end(): void; stop(): Promise<ProcessMemory> } {
  const started = performance.now();
  const samples: Sample[] = [];
  let endMs: number | undefined;
  let inFlight: Promise<void> | undefined;
  const take = async () => {
    const [{ memory: own }, childUsages, heaps] = await Promise.all([
      host.usage(),
      Promise.all(children.map((c) => c.usage().catch(() => undefined))),
      workerHeaps().catch(() => ({})),
    ]);
    samples.push({
      atMs: performance.now() - started,
      rss: own.rss,
      heapUsed: own.heapUsed,
      heapTotal: own.heapTotal,
      external: own.external,
      arrayBuffers: own.arrayBuffers,
      childrenRss: childUsages.reduce((sum, u) => sum + (u?.memory.rss ?? 0), 0),
      workersHeap: Object.values(heaps).reduce((sum, h) => sum + h.total_physical_size, 0),
      rssFile: procStatusBytes(host.pid, "RssFile"),
    });
  };
  const timer = setInterval(() => {
    inFlight ??= take().finally(() => {
      inFlight = undefined;
    });
  }, intervalMs);
  return {
    end() {
      endMs = performance.now() - started;
    },
    async stop() {
      clearInterval(timer);
      await inFlight;
      await take();
      const last = samples.at(-1) as Sample;
      const phaseEnd = endMs ?? last.atMs;
      const nearest = (t: number) =>
        samples.reduce((best, s) => (Math.abs(s.atMs - t) < Math.abs(best.atMs - t) ? s : best));
      const middle = nearest(phaseEnd / 2);
      const end = nearest(phaseEnd);
      const peak = samples.reduce((best, s) => (s.rss > best.rss ? s : best));
      return {
        rss_mb: round(peak.rss / MB),
        heap_used_mb_at_peak: round(peak.heapUsed / MB),
        // external includes arrayBuffers (Buffer memory); Node counts both outside the V8 heap.
        off_heap_mb_at_peak: round(peak.external / MB),
        heap_total_mb_at_peak: round(peak.heapTotal / MB),
        worker_heaps_mb_at_peak: round(peak.workersHeap / MB),
        file_backed_mb_at_peak: round(peak.rssFile / MB),
        children_rss_mb: round(Math.max(...samples.map((s) => s.childrenRss)) / MB),
        rss_mb_middle: round(middle.rss / MB),
        rss_mb_end: round(end.rss / MB),
        children_rss_mb_middle: round(middle.childrenRss / MB),
        children_rss_mb_end: round(end.childrenRss / MB),
        rss_growth_middle_to_end: Math.round((end.rss / middle.rss - 1) * 1000) / 1000,
        samples: samples.length,
      };
    },
  };
}

/** A field of /proc/<pid>/status in bytes (VmRSS, RssFile…); 0 where there is no /proc. */
export function procStatusBytes(pid: number, field: string): number {
  try {
    const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match?.[1] ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0; // not Linux, or the process is gone
  }
}

/** CPU time (ms) of the stack's child processes so far. */
export async function childrenCpuMs(children: readonly LocalChildProcess[]): Promise<number> {
  const usages = await Promise.all(children.map((c) => c.usage()));
  return usages.reduce((sum, u) => sum + (u.cpu.user + u.cpu.system) / 1000, 0);
}
