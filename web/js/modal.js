// An in-page modal dialog (not window.confirm, so that it can be styled and driven by tests).
// While one is open the periodic refresh pauses (isModalOpen()).

import {el} from './util.js';

let openCount = 0;

export function isModalOpen() {
  return openCount > 0;
}

/**
 * Shows a dialog and resolves with the values of its fields when confirmed, null when cancelled.
 *
 * @param {object} o
 * @param {string} o.title
 * @param {Array<Node|string>|Node|string} o.body what the action does
 * @param {string} o.confirmText the confirm button's label
 * @param {boolean} [o.danger] red confirm button
 * @param {Array<{name: string, label: string, type: 'checkbox'|'number'|'text', value?: any,
 *     min?: number, placeholder?: string}>} [o.fields]
 * @param {function(object): string|null} [o.validate] an error message for bad values
 * @returns {Promise<object|null>}
 */
export function openDialog({title, body, confirmText = 'OK', danger = false, fields = [],
  validate}) {
  return new Promise((resolve) => {
    const previousFocus = document.activeElement;
    const inputs = {};
    const fieldNodes = fields.map((f) => {
      const id = `modal-field-${f.name}`;
      const input = el('input', {
        id, name: f.name, type: f.type,
        value: f.type === 'checkbox' ? undefined : (f.value ?? ''),
        min: f.min, placeholder: f.placeholder, dataset: {field: f.name},
      });
      if (f.type === 'checkbox') input.checked = !!f.value;
      inputs[f.name] = input;
      return f.type === 'checkbox'
        ? el('label', {class: 'modal-field checkbox', for: id}, input, ' ', f.label)
        : el('label', {class: 'modal-field', for: id}, el('span', null, f.label), input);
    });
    const error = el('p', {class: 'modal-error', role: 'alert'});
    const cancel = el('button', {type: 'button', class: 'btn', dataset: {action: 'cancel'}},
      'Cancel');
    const confirm = el('button', {
      type: 'submit', class: `btn ${danger ? 'btn-danger' : 'btn-primary'}`,
      dataset: {action: 'confirm'},
    }, confirmText);
    const form = el('form', {class: 'modal', role: 'dialog', 'aria-modal': 'true',
      'aria-labelledby': 'modal-title'},
    el('h2', {id: 'modal-title'}, title),
    el('div', {class: 'modal-body'}, body),
    fieldNodes,
    error,
    el('div', {class: 'modal-buttons'}, cancel, confirm));
    const backdrop = el('div', {class: 'modal-backdrop'}, form);

    const values = () => {
      const out = {};
      for (const [name, input] of Object.entries(inputs)) {
        out[name] = input.type === 'checkbox' ? input.checked : input.value.trim();
      }
      return out;
    };
    const close = (result) => {
      openCount--;
      backdrop.remove();
      document.removeEventListener('keydown', onKey, true);
      if (previousFocus && typeof previousFocus.focus === 'function') previousFocus.focus();
      resolve(result);
    };
    const onKey = (e) => {
      if (e.key === 'Escape') {
        e.preventDefault();
        close(null);
      }
    };
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const v = values();
      const problem = validate ? validate(v) : null;
      if (problem) {
        error.textContent = problem;
        return;
      }
      close(v);
    });
    cancel.addEventListener('click', () => close(null));
    backdrop.addEventListener('mousedown', (e) => {
      if (e.target === backdrop) close(null);
    });
    document.addEventListener('keydown', onKey, true);
    openCount++;
    document.body.append(backdrop);
    const first = fieldNodes.length > 0 ? Object.values(inputs)[0] : confirm;
    first.focus();
  });
}
