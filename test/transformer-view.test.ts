/**
 * The transformer panel's numbers (src/viewer-core/transformer-view.ts), without a browser: the
 * per-token L2 norms of sample 0, the head grid of sample 0, and the layouts the page paints.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gridIndexAt, gridSize } from '../src/viewer-core/matrix-grid.js';
import { headGrid, headsLayout, normsLayout, tokenNorms } from '../src/viewer-core/transformer-view.js';

describe('transformer view', () => {
  it('norms: one row per hidden state, one column per token, of sample 0 only', () => {
    // [batch 2, seq 2, hidden 2]: sample 0 has tokens (3, 4) and (0, 5); sample 1 must not count.
    const a = { key: 'hidden_states.0', dims: [2, 2, 2], values: [3, 4, 0, 5, 100, 100, 100, 100] };
    const b = { key: 'hidden_states.1', dims: [2, 2, 2], values: [1, 0, 2, 2, 9, 9, 9, 9] };
    const norms = tokenNorms([a, b]);
    assert.deepEqual(norms.layers, ['hidden_states.0', 'hidden_states.1']);
    assert.equal(norms.tokens, 2);
    assert.deepEqual([...norms.values], [5, 5, 1, Math.fround(Math.sqrt(8))]);
    assert.throws(() => tokenNorms([a, { key: 'x', dims: [2, 3, 2], values: [] }]), /x is \[2, 3, 2\]/);
  });

  it('head grid: sample 0 of [batch, heads, query, key], laid out one tile per head', () => {
    const values = Array.from({ length: 2 * 3 * 2 * 2 }, (_, i) => i);
    const grid = headGrid({ key: 'attentions.0', dims: [2, 3, 2, 2], values });
    assert.deepEqual([grid.heads, grid.queries, grid.keys, grid.values.length], [3, 2, 2, 12]);
    assert.deepEqual([...grid.values], values.slice(0, 12));
    const layout = headsLayout(grid, 720);
    assert.equal(layout.count, 3);
    assert.equal(layout.perRow, 3);
    // The pixel at the top-left of head 2 shows element 2 * 2 * 2 (head 2, query 0, key 0).
    assert.equal(gridIndexAt(layout, 2 * (layout.tileWidth + layout.gap), 0), 8);
    const narrow = headsLayout(grid, layout.tileWidth);
    assert.deepEqual([narrow.perRow, gridSize(narrow).height], [1, 3 * layout.tileHeight + 2 * layout.gap]);
  });

  it('norms layout: layers as rows, tokens as columns, within the width', () => {
    const norms = tokenNorms([{ key: 'h', dims: [1, 50, 1], values: Array.from({ length: 50 }, (_, i) => i) }]);
    const layout = normsLayout(norms, 400);
    assert.deepEqual([layout.rows, layout.cols], [1, 50]);
    assert.ok(layout.tileWidth <= 400 && layout.tileWidth >= 50);
    assert.equal(gridIndexAt(layout, layout.tileWidth - 1, 0), 49);
  });
});
