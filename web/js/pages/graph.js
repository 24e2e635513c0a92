// The job graph in SVG: one box per vertex (name, parallelism, status, back pressure colour, busy
// time, input watermark), arrows labelled with the ship strategy and the records/s and bytes/s
// the producer sends. Layout by topological level, left to right (graph_layout.js).

import {BOX, layoutGraph} from '../graph_layout.js';
import {el, fmtBytes, fmtCount, fmtPercent, fmtWatermark, isNoWatermark, setChildren, svg}
  from '../util.js';

const MAX_NAME_CHARS = 31;

function truncate(text, max) {
  const s = String(text ?? '');
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

function bpText(f) {
  if (!f || !f.backPressureLevel) return 'Back pressure: –';
  return `Back pressure: ${f.backPressureLevel.toUpperCase()} (${fmtPercent(f.backPressureRatio)})`;
}

function watermarkText(f) {
  if (!f || f.watermark === undefined || f.watermark === null || isNoWatermark(f.watermark)) {
    return 'Watermark: none';
  }
  return `Watermark: ${fmtWatermark(f.watermark).slice(11)}`;
}

function rateLines(f) {
  return [
    f && Number.isFinite(f.recordsOutPerSecond) ? `${fmtCount(f.recordsOutPerSecond)} rec/s` : '– rec/s',
    f && Number.isFinite(f.bytesOutPerSecond) ? `${fmtBytes(f.bytesOutPerSecond)}/s` : '– B/s',
  ];
}

/**
 * @param {{onSelect?: function(string): void}} o called with a vertex id when a box is clicked
 */
export function createGraph({onSelect} = {}) {
  const element = el('div', {class: 'graph', dataset: {test: 'job-graph'}});
  const legend = el('div', {class: 'legend'},
    el('span', {class: 'legend-item bp-ok'}, 'no back pressure'),
    el('span', {class: 'legend-item bp-low'}, 'low back pressure'),
    el('span', {class: 'legend-item bp-high'}, 'high back pressure'),
    el('span', {class: 'legend-item bp-unknown'}, 'no figures'),
    el('span', {class: 'legend-item bottleneck-key'}, 'bottleneck'));
  const wrap = el('div', {class: 'graph-wrap'}, element, legend);

  function render(details, figures, verdict) {
    const nodes = details.plan?.nodes ?? [];
    const vertexById = new Map((details.vertices ?? []).map((v) => [v.id, v]));
    const layout = layoutGraph(nodes);
    const running = details.state === 'RUNNING';
    const bottleneckId = verdict?.bottleneck?.id;
    const vertexName = (id) => vertexById.get(id)?.name ?? id;

    const defs = svg('defs', null,
      svg('marker', {id: 'arrow', viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '8',
        markerHeight: '8', orient: 'auto-start-reverse'},
      svg('path', {d: 'M 0 0 L 10 5 L 0 10 z', class: 'arrow-head'})));
    const edgeLayer = svg('g', {class: 'edges'});
    const labelLayer = svg('g', {class: 'edge-labels'});
    for (const e of layout.edges) {
      const f = running ? figures?.[e.from] : null;
      edgeLayer.append(svg('path', {d: e.path, class: 'edge', 'marker-end': 'url(#arrow)'}));
      const ship = e.ship || 'FORWARD';
      const rates = running ? rateLines(f) : [];
      const width = Math.max(ship.length * 8, ...rates.map((r) => r.length * 6.6)) + 18;
      const height = 20 + rates.length * 14;
      const top = e.labelY - height / 2;
      const tip = [`${ship} from '${vertexName(e.from)}' to '${vertexName(e.to)}'`];
      if (running) {
        tip.push(`${rates.join(', ')}: what '${vertexName(e.from)}' sends, averaged over the last 30 s`);
        if (f && Number.isFinite(f.instantRecordsOutPerSecond)) {
          tip.push(`last report: ${fmtCount(f.instantRecordsOutPerSecond)} rec/s` +
            (Number.isFinite(f.instantBytesOutPerSecond) ? `, ${fmtBytes(f.instantBytesOutPerSecond)}/s` : ''));
        }
      }
      labelLayer.append(svg('g', {class: 'edge-label',
        dataset: {test: 'edge', from: e.from, to: e.to, averaged: f?.ratesAveraged ? '1' : '0'}},
        svg('title', null, tip.join('\n')),
        svg('rect', {x: e.labelX - width / 2, y: top, width, height, rx: 4}),
        svg('text', {x: e.labelX, y: top + 14, class: 'ship'}, ship),
        rates.map((r, i) => svg('text', {x: e.labelX, y: top + 29 + i * 14, class: 'rate'}, r))));
    }

    const boxLayer = svg('g', {class: 'vertices'});
    for (const node of nodes) {
      const pos = layout.boxes.get(node.id);
      const v = vertexById.get(node.id) ?? {name: node.description, parallelism: node.parallelism};
      const f = running ? figures?.[node.id] : null;
      const level = f?.backPressureLevel ?? 'unknown';
      const busy = f && Number.isFinite(f.busyMsPerSecond) ? f.busyMsPerSecond / 1000 : null;
      const isBottleneck = node.id === bottleneckId;
      const x = pos.x + 12;
      const lines = [
        `Parallelism ${v.parallelism ?? node.parallelism} · ${v.status ?? ''}`,
        running ? bpText(f) : 'Back pressure: –',
        running ? `Busy: ${busy === null ? '–' : fmtPercent(busy)}` : 'Busy: –',
        running ? watermarkText(f) : 'Watermark: –',
      ];
      const g = svg('g', {
        class: `vertex bp-${level}${isBottleneck ? ' bottleneck' : ''}`,
        transform: `translate(0,0)`,
        tabindex: '0',
        role: 'button',
        'aria-label': `${v.name}: ${lines.join(', ')}`,
        dataset: {test: 'vertex', vertexId: node.id, name: v.name ?? '', bp: level},
      },
      svg('title', null, `${v.name}\n${lines.join('\n')}\nClick for its subtasks.`),
      svg('rect', {x: pos.x, y: pos.y, width: BOX.width, height: BOX.height, rx: 8, class: 'box'}),
      svg('rect', {x: pos.x, y: pos.y, width: 8, height: BOX.height, rx: 4, class: 'box-stripe'}),
      svg('text', {x, y: pos.y + 24, class: 'vname'}, truncate(v.name, MAX_NAME_CHARS)),
      lines.map((line, i) => svg('text', {x, y: pos.y + 46 + i * 18,
        class: `vline${i === 1 ? ' vbp' : ''}${i === 2 && busy !== null && busy >= 0.8 ? ' vbusy' : ''}`}, line)),
      isBottleneck ? svg('text', {x: pos.x + BOX.width, y: pos.y - 7, class: 'vtag',
        'text-anchor': 'end'}, 'bottleneck') : null);
      if (onSelect) {
        g.addEventListener('click', () => onSelect(node.id));
        g.addEventListener('keydown', (ev) => {
          if (ev.key === 'Enter' || ev.key === ' ') {
            ev.preventDefault();
            onSelect(node.id);
          }
        });
      }
      boxLayer.append(g);
    }

    const root = svg('svg', {
      width: layout.width, height: layout.height,
      viewBox: `0 0 ${layout.width} ${layout.height}`,
      role: 'img', 'aria-label': `Job graph with ${nodes.length} vertices`,
    }, defs, edgeLayer, boxLayer, labelLayer);
    setChildren(element, nodes.length > 0 ? root : el('p', {class: 'muted'}, 'The job has no vertices.'));
  }

  return {element: wrap, render};
}
