// A sortable, filterable table that updates its rows in place (keyed), so that a refresh with
// hundreds of rows only touches the cells that changed.

import {el} from './util.js';

/**
 * @typedef {object} Column
 * @property {string} key
 * @property {string} label
 * @property {function(object): (string|number)} [value] the sort value (default row[key])
 * @property {function(object): (Node|string|number)} [render] the cell (default the value)
 * @property {string} [className] e.g. 'num' for right-aligned numbers
 * @property {boolean} [sortable] default true
 * @property {string} [title] a tooltip for the header
 */
export class DataTable {
  /**
   * @param {object} o
   * @param {Column[]} o.columns
   * @param {function(object): string} o.rowKey
   * @param {string} [o.emptyText]
   * @param {{key: string, dir: 'asc'|'desc'}} [o.sort]
   * @param {string} [o.className]
   * @param {string} [o.testId] data-test attribute of the table
   * @param {function(object): string} [o.rowClass]
   */
  constructor({columns, rowKey, emptyText = 'Nothing to show.', sort = null, className = '',
    testId, rowClass}) {
    this.columns = columns;
    this.rowKey = rowKey;
    this.rowClass = rowClass;
    this.sort = sort;
    this.filter = null;
    this.rows = [];
    this.trs = new Map();
    this.headers = new Map();
    const headRow = el('tr');
    for (const c of columns) {
      const sortable = c.sortable !== false;
      const th = el('th', {class: `${c.className ?? ''} ${sortable ? 'sortable' : ''}`.trim(),
        title: c.title, scope: 'col'}, c.label);
      if (sortable) {
        th.tabIndex = 0;
        const toggle = () => this.sortBy(c.key);
        th.addEventListener('click', toggle);
        th.addEventListener('keydown', (e) => {
          if (e.key === 'Enter' || e.key === ' ') {
            e.preventDefault();
            toggle();
          }
        });
      }
      this.headers.set(c.key, th);
      headRow.append(th);
    }
    this.tbody = el('tbody');
    this.empty = el('div', {class: 'empty'}, emptyText);
    this.count = el('div', {class: 'table-count'});
    this.table = el('table', {class: `data ${className}`.trim(), dataset: testId ? {test: testId} : undefined},
      el('thead', null, headRow), this.tbody);
    this.element = el('div', {class: 'table-wrap'}, this.table, this.empty);
    this.updateHeaders();
  }

  sortBy(key) {
    if (this.sort && this.sort.key === key) {
      this.sort = {key, dir: this.sort.dir === 'asc' ? 'desc' : 'asc'};
    } else {
      this.sort = {key, dir: 'asc'};
    }
    this.updateHeaders();
    this.render();
  }

  updateHeaders() {
    for (const [key, th] of this.headers) {
      const active = this.sort && this.sort.key === key;
      th.classList.toggle('sorted', !!active);
      th.dataset.dir = active ? this.sort.dir : '';
      if (th.classList.contains('sortable')) {
        th.setAttribute('aria-sort', active ? (this.sort.dir === 'asc' ? 'ascending' : 'descending') : 'none');
      }
    }
  }

  //! Shows only the rows for which `fn(row)` is true (null: all).
  setFilter(fn) {
    this.filter = fn;
    this.render();
  }

  setRows(rows) {
    this.rows = Array.isArray(rows) ? rows : [];
    this.render();
  }

  valueOf(column, row) {
    return column.value ? column.value(row) : row[column.key];
  }

  visibleRows() {
    let rows = this.filter ? this.rows.filter(this.filter) : [...this.rows];
    if (this.sort) {
      const column = this.columns.find((c) => c.key === this.sort.key);
      if (column) {
        const sign = this.sort.dir === 'asc' ? 1 : -1;
        rows = rows
          .map((row, i) => ({row, i, v: this.valueOf(column, row)}))
          .sort((a, b) => {
            const x = a.v;
            const y = b.v;
            let c;
            if (typeof x === 'number' && typeof y === 'number') c = x - y;
            else c = String(x ?? '').localeCompare(String(y ?? ''), undefined, {numeric: true});
            return c !== 0 ? sign * c : a.i - b.i;
          })
          .map((e) => e.row);
      }
    }
    return rows;
  }

  render() {
    const rows = this.visibleRows();
    const keep = new Set();
    let previous = null;
    for (const row of rows) {
      const key = String(this.rowKey(row));
      keep.add(key);
      let tr = this.trs.get(key);
      if (!tr) {
        tr = el('tr', {dataset: {key}});
        for (const c of this.columns) tr.append(el('td', {class: c.className}));
        this.trs.set(key, tr);
      }
      if (this.rowClass) tr.className = this.rowClass(row) ?? '';
      this.columns.forEach((c, i) => {
        const content = c.render ? c.render(row) : this.valueOf(c, row);
        setCell(tr.children[i], content);
      });
      // Keep the DOM order equal to `rows`, moving only rows that are out of place.
      const expected = previous ? previous.nextSibling : this.tbody.firstChild;
      if (expected !== tr) this.tbody.insertBefore(tr, expected);
      previous = tr;
    }
    for (const [key, tr] of this.trs) {
      if (!keep.has(key)) {
        tr.remove();
        this.trs.delete(key);
      }
    }
    this.empty.hidden = rows.length > 0;
    this.table.hidden = rows.length === 0;
  }
}

function setCell(td, content) {
  if (content instanceof Node) {
    if (td.firstChild !== content || td.childNodes.length !== 1) td.replaceChildren(content);
    return;
  }
  const text = content === undefined || content === null ? '' : String(content);
  if (td.childElementCount > 0 || td.textContent !== text) td.textContent = text;
}
