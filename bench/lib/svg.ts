import { histogram, niceCeil, percentile } from "./stats.ts";

/**
 * A hand-written SVG chart of a latency distribution: a histogram (bars, left axis: share of
 * samples per bin) with the cumulative distribution over it (line, right axis: 0–100 %) and the
 * p50/p95/p99 marked. No dependency; deterministic for a given input.
 */
export function renderLatencySvg(
  samplesMs: readonly number[],
  options: { title: string; subtitle?: string; bins?: number; width?: number; height?: number },
): string {
  const width = options.width ?? 760;
  const height = options.height ?? 360;
  const margin = { top: 56, right: 60, bottom: 48, left: 60 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const header = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12" role="img">`,
    `<title>${escapeXml(options.subtitle ? `${options.title} (${options.subtitle})` : options.title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${margin.left}" y="22" font-size="15" font-weight="bold">${escapeXml(options.title)}</text>`,
    options.subtitle
      ? `<text x="${margin.left}" y="40" fill="#555">${escapeXml(options.subtitle)}</text>`
      : "",
  ];
  if (sorted.length === 0) {
    return [
      ...header,
      `<text x="${width / 2}" y="${height / 2}" text-anchor="middle" fill="#555">no samples</text>`,
      "</svg>",
      "",
    ].join("\n");
  }
  const { bins, overflow } = histogram(sorted, { bins: options.bins ?? 50 });
  const xMax = bins.at(-1)?.to ?? 1;
  const x = (ms: number) => margin.left + (Math.min(ms, xMax) / xMax) * plotW;
  const share = bins.map((bin) => bin.count / sorted.length);
  const yMax = niceCeil(Math.max(...share, 0.01));
  const y = (fraction: number) => margin.top + plotH - (fraction / yMax) * plotH;
  const yCdf = (fraction: number) => margin.top + plotH - fraction * plotH;
  const parts: string[] = [...header];

  // Grid and axes.
  for (let i = 0; i <= 4; i++) {
    const fraction = (yMax * i) / 4;
    const py = y(fraction);
    parts.push(
      `<line x1="${margin.left}" y1="${f(py)}" x2="${margin.left + plotW}" y2="${f(py)}" stroke="#e5e5e5"/>`,
      `<text x="${margin.left - 6}" y="${f(py + 4)}" text-anchor="end" fill="#1f77b4">${pct(fraction)}</text>`,
      `<text x="${margin.left + plotW + 6}" y="${f(yCdf(i / 4) + 4)}" fill="#d62728">${pct(i / 4)}</text>`,
    );
  }
  for (let i = 0; i <= 5; i++) {
    const ms = (xMax * i) / 5;
    parts.push(
      `<line x1="${f(x(ms))}" y1="${margin.top + plotH}" x2="${f(x(ms))}" y2="${margin.top + plotH + 4}" stroke="#333"/>`,
      `<text x="${f(x(ms))}" y="${margin.top + plotH + 18}" text-anchor="middle">${trim(ms)}</text>`,
    );
  }
  parts.push(
    `<line x1="${margin.left}" y1="${margin.top + plotH}" x2="${margin.left + plotW}" y2="${margin.top + plotH}" stroke="#333"/>`,
    `<text x="${margin.left + plotW / 2}" y="${height - 10}" text-anchor="middle">latency (ms)${overflow > 0 ? ` — ${overflow} sample(s) above ${trim(xMax)} ms not shown as bars` : ""}</text>`,
    `<text transform="translate(16 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#1f77b4">share of deliveries per bin</text>`,
    `<text transform="translate(${width - 14} ${margin.top + plotH / 2}) rotate(90)" text-anchor="middle" fill="#d62728">cumulative</text>`,
  );

  // Bars.
  const barW = plotW / bins.length;
  bins.forEach((bin, i) => {
    const fraction = share[i] ?? 0;
    if (bin.count === 0) return;
    const top = y(fraction);
    parts.push(
      `<rect x="${f(margin.left + i * barW + 0.5)}" y="${f(top)}" width="${f(Math.max(barW - 1, 0.5))}" height="${f(margin.top + plotH - top)}" fill="#1f77b4" fill-opacity="0.75"><title>${trim(bin.from)}–${trim(bin.to)} ms: ${bin.count}</title></rect>`,
    );
  });

  // CDF at the right edge of each bin.
  let cumulative = sorted.length > 0 ? sorted.filter((v) => v < 0).length : 0;
  const points = [`${f(x(0))},${f(yCdf(cumulative / sorted.length))}`];
  for (const bin of bins) {
    cumulative += bin.count;
    points.push(`${f(x(bin.to))},${f(yCdf(cumulative / sorted.length))}`);
  }
  parts.push(`<polyline points="${points.join(" ")}" fill="none" stroke="#d62728" stroke-width="2"/>`);

  // Percentile markers.
  const marks: [string, number][] = [
    ["p50", percentile(sorted, 50)],
    ["p95", percentile(sorted, 95)],
    ["p99", percentile(sorted, 99)],
  ];
  marks.forEach(([label, value], i) => {
    const px = x(value);
    parts.push(
      `<line x1="${f(px)}" y1="${margin.top}" x2="${f(px)}" y2="${margin.top + plotH}" stroke="#333" stroke-dasharray="4 3"/>`,
      px > margin.left + plotW * 0.7
        ? `<text x="${f(px - 3)}" y="${margin.top + 12 + i * 14}" text-anchor="end" fill="#333" stroke="#fff" stroke-width="3" paint-order="stroke">${label} ${trim(value)} ms</text>`
        : `<text x="${f(px + 3)}" y="${margin.top + 12 + i * 14}" fill="#333" stroke="#fff" stroke-width="3" paint-order="stroke">${label} ${trim(value)} ms</text>`,
    );
  });
  parts.push("</svg>", "");
  return parts.filter((part) => part !== "").join("\n");
}

export function escapeXml(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");
}

const f = (n: number) => (Math.round(n * 10) / 10).toString();
const pct = (fraction: number) => `${Math.round(fraction * 1000) / 10}%`;
const trim = (ms: number) => (ms >= 10 ? String(Math.round(ms)) : String(Math.round(ms * 10) / 10));
