// A time series chart (uPlot: small, fast, canvas), with the same numbers as a table for
// screen readers and for anyone who wants the figures.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export type Series = { label: string; values: (number | null)[]; color: string };

export function TrendChart(props: {
  title: string;
  times: number[];
  series: Series[];
  format: (v: number) => string;
}) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const width = Math.max(240, el.clientWidth);
    // A canvas takes colours, not CSS variables: read them off the page's theme.
    const style = getComputedStyle(el);
    const colour = (c: string) =>
      c.startsWith("var(") ? style.getPropertyValue(c.slice(4, -1)).trim() || "gray" : c;
    const ink = style.color;
    const plot = new uPlot(
      {
        width,
        height: 140,
        legend: { show: false },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true } },
        axes: [
          { stroke: ink, grid: { show: false }, ticks: { show: false } },
          {
            stroke: ink,
            size: 72,
            values: (_u, ticks) => ticks.map((t) => props.format(t)),
            grid: { stroke: "rgba(128,128,128,0.2)" },
          },
        ],
        series: [
          {},
          ...props.series.map((s) => ({
            label: s.label,
            stroke: colour(s.color),
            width: 2,
            spanGaps: true,
            points: { show: true, size: 4 },
            value: (_u: uPlot, v: number | null) => (v === null ? "—" : props.format(v)),
          })),
        ],
      },
      [props.times, ...props.series.map((s) => s.values)] as uPlot.AlignedData,
      el,
    );
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(240, el.clientWidth), height: 140 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [props.times, props.series]);
  return (
    <figure class="chart">
      <figcaption>
        {props.title}
        {props.series.length > 1 &&
          props.series.map((s) => (
            <span key={s.label} class="key">
              <span class="swatch" style={{ background: s.color }} aria-hidden="true" /> {s.label}
            </span>
          ))}
      </figcaption>
      <div ref={box} aria-hidden="true" />
      <details class="chart-data">
        <summary>Figures</summary>
        <table>
          <thead>
            <tr>
              <th scope="col">Day</th>
              {props.series.map((s) => (
                <th scope="col" key={s.label}>
                  {s.label}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {props.times.map((t, i) => (
              <tr key={t}>
                <td>{new Date(t * 1000).toISOString().slice(0, 10)}</td>
                {props.series.map((s) => {
                  const v = s.values[i];
                  return <td key={s.label}>{v === null || v === undefined ? "—" : props.format(v)}</td>;
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
