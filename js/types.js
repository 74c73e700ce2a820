// Shared JSDoc types. This module exports nothing at run time.

/**
 * The anywidget model interface (anywidget >= 0.9), as seen from `render({ model, el })`.
 * @typedef {object} Model
 * @property {(name: string) => any} get
 * @property {(name: string, value: any) => void} set
 * @property {() => void} save_changes
 * @property {(name: string, callback: (...args: any[]) => void) => void} on
 * @property {(name?: string | null, callback?: ((...args: any[]) => void) | null) => void} off
 * @property {(content: any, callbacks?: any, buffers?: (ArrayBuffer | ArrayBufferView)[]) => void} send
 */

/**
 * One entry of the `history` trait.
 * @typedef {object} HistoryEntry
 * @property {number} rank
 * @property {number} size          S, a number of examples
 * @property {number} fraction      S / n
 * @property {number} weighted_loss
 * @property {number} top_loss
 * @property {number} mass
 * @property {number} members
 * @property {string} caption
 * @property {string} [label]       what the method calls one result: "spotlight", "cluster", "slice"
 * @property {number[]} [model_losses]  a comparison: the old and the new model's mean loss over the top S
 */

/**
 * The `comparison` trait: the two models an explorer compares ({} when it compares none).
 * @typedef {object} ComparisonInfo
 * @property {string[]} [names]     the old and the new model's names
 */

/**
 * One entry of the `methods` trait: a slice finder the explorer offers.
 * @typedef {object} MethodInfo
 * @property {string} name        the value of the `method` trait
 * @property {string} label       shown in the selector
 * @property {string} [title]     a one-line explanation
 * @property {string} [noun]      what it calls one result ("spotlight", "cluster", "slice")
 */

/**
 * The `limits` trait: limits and options of the Python side that the front end follows.
 * @typedef {object} Limits
 * @property {number} thumbnails_per_request   most thumbnails one request may ask for
 * @property {[string, string][]} probe_metrics  [name, label] of the metrics a probe ranks by
 */

/**
 * The `status` trait.
 * @typedef {object} Status
 * @property {"idle" | "running" | "error"} state
 * @property {number} progress      0..1
 * @property {string} message
 */

/**
 * One entry of the `page_items` trait.
 * @typedef {object} PageItem
 * @property {number} index
 * @property {number | null} weight
 * @property {number | null} loss
 * @property {"train"} [source]      set for training examples (the opponents list)
 * @property {number} [influence]    a training example's influence on the result's total loss
 * @property {string | null} label
 * @property {string | null} prediction
 * @property {string | null} text
 * @property {number[]} [model_losses]       a comparison: the old and the new model's loss
 * @property {string[]} [model_predictions]  a comparison with both models' predictions: old, new
 */

/**
 * One row of the `breakdown` trait.
 * @typedef {object} BreakdownRow
 * @property {string} group
 * @property {number} count
 * @property {number} share_in
 * @property {number} share_all
 * @property {number | null} lift
 * @property {number | null} loss_in
 * @property {number | null} loss_all
 * @property {number | null} lift_low    interval of the lift (describe())
 * @property {number | null} lift_high
 * @property {number | null} p_value
 * @property {number | null} loss_out    the group's mean loss outside the result
 * @property {number | null} [loss_old_in]   a comparison: each model's mean loss of the group, in the result
 * @property {number | null} [loss_new_in]
 * @property {number | null} [loss_old_all]  and overall
 * @property {number | null} [loss_new_all]
 */

/**
 * The `map_state` trait: where the map's coordinates stand. `version` increases every time
 * the coordinates change (the view then asks for them again).
 * @typedef {object} MapState
 * @property {"none" | "computing" | "ready" | "error"} state
 * @property {number} progress      0..1
 * @property {string} message
 * @property {number} version
 * @property {string} projection    how the coordinates were made ("pca", "scvis", "umap", "given", ...)
 * @property {boolean} refining     the map shown is a quick preview; a better one is on its way
 */

/**
 * The legend of a "colors" reply: what the byte per point means.
 * continuous: 0..254 is the position between min and max, 255 missing;
 * categorical: the index into categories (at most 20), 255 missing.
 * @typedef {{ kind: "continuous", label: string, min: number, max: number }
 *   | { kind: "categorical", label: string, categories: string[] }} Legend
 */

/**
 * One entry of the `map_layers` trait: a history entry of the current method on the map.
 * @typedef {object} MapLayer
 * @property {number} position       its position in the history
 * @property {string} label          "#1", "#2", ...
 * @property {boolean} current       the result shown
 * @property {[number, number][]} hull  convex hull of its top-S members, map coordinates (not closed)
 */

/**
 * A view: renders into `el` and returns its cleanup.
 * @typedef {(model: Model, el: HTMLElement) => () => void} View
 */

export {};
