// Layout of a job graph, left to right by topological level. Pure logic, no DOM.

export const BOX = {width: 250, height: 118, colGap: 190, rowGap: 36, margin: 24};

/**
 * Positions of the boxes and the edges between them.
 *
 * @param {Array<{id: string, inputs?: Array<{id: string, ship_strategy?: string}>}>} nodes
 * @returns {{boxes: Map<string, {x: number, y: number, level: number}>,
 *     edges: Array<{from: string, to: string, ship: string, path: string, labelX: number,
 *     labelY: number}>, width: number, height: number}}
 */
export function layoutGraph(nodes, box = BOX) {
  const ids = nodes.map((n) => n.id);
  const known = new Set(ids);
  const inputs = new Map(nodes.map((n) => [n.id, (n.inputs ?? []).filter((i) => known.has(i.id))]));

  // Level: the longest path from a source (bounded, so a cycle cannot loop forever).
  const level = new Map(ids.map((id) => [id, 0]));
  for (let round = 0; round < ids.length; round++) {
    let changed = false;
    for (const id of ids) {
      for (const input of inputs.get(id)) {
        const l = level.get(input.id) + 1;
        if (l > level.get(id) && l < ids.length) {
          level.set(id, l);
          changed = true;
        }
      }
    }
    if (!changed) break;
  }

  const columns = [];
  for (const id of ids) {
    const l = level.get(id);
    while (columns.length <= l) columns.push([]);
    columns[l].push(id);
  }
  // Order each column by the mean row of its inputs (fewer crossings).
  const row = new Map();
  columns.forEach((column, l) => {
    if (l > 0) {
      const key = (id) => {
        const rows = inputs.get(id).map((i) => row.get(i.id)).filter((r) => r !== undefined);
        return rows.length ? rows.reduce((a, b) => a + b, 0) / rows.length : 0;
      };
      column.sort((a, b) => key(a) - key(b) || ids.indexOf(a) - ids.indexOf(b));
    }
    column.forEach((id, r) => row.set(id, r));
  });

  const tallest = Math.max(1, ...columns.map((c) => c.length));
  const fullHeight = tallest * box.height + (tallest - 1) * box.rowGap;
  const boxes = new Map();
  columns.forEach((column, l) => {
    const height = column.length * box.height + (column.length - 1) * box.rowGap;
    const top = box.margin + (fullHeight - height) / 2;
    column.forEach((id, r) => {
      boxes.set(id, {
        x: box.margin + l * (box.width + box.colGap),
        y: top + r * (box.height + box.rowGap),
        level: l,
      });
    });
  });

  const edges = [];
  for (const n of nodes) {
    const ins = inputs.get(n.id);
    ins.forEach((input, k) => {
      const a = boxes.get(input.id);
      const b = boxes.get(n.id);
      // Several inputs enter the box at different heights.
      const spread = ins.length > 1 ? (k - (ins.length - 1) / 2) * 18 : 0;
      const x1 = a.x + box.width;
      const y1 = a.y + box.height / 2;
      const x2 = b.x - 2;
      const y2 = b.y + box.height / 2 + spread;
      let path;
      let labelX;
      let labelY;
      if (x2 > x1) {
        const dx = Math.max(40, (x2 - x1) / 2);
        path = `M ${x1} ${y1} C ${x1 + dx} ${y1}, ${x2 - dx} ${y2}, ${x2} ${y2}`;
        labelX = (x1 + x2) / 2;
        labelY = (y1 + y2) / 2;
      } else {
        // A back edge (only in a cyclic graph): loop below the boxes.
        const low = box.margin + fullHeight + 20;
        path = `M ${x1} ${y1} C ${x1 + 60} ${low}, ${x2 - 60} ${low}, ${x2} ${y2}`;
        labelX = (x1 + x2) / 2;
        labelY = low - 10;
      }
      edges.push({from: input.id, to: n.id, ship: input.ship_strategy ?? '', path, labelX, labelY});
    });
  }

  return {
    boxes,
    edges,
    width: box.margin * 2 + columns.length * box.width + (columns.length - 1) * box.colGap,
    height: box.margin * 2 + fullHeight + 30,
  };
}
