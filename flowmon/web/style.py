"""The app's CSS: layout primitives for pages, cards, tables and the header, in light and dark mode.

Colours of statuses come from :mod:`flowmon.web.theme` (its status words' variables head this sheet); the rest
only uses neutral greys and the primary colour, each given for both modes (``body.body--dark`` is Quasar's
dark-mode class).
"""

from __future__ import annotations

from flowmon.web.theme import json_value_css, primary_text_css, status_text_css

CSS = (
    status_text_css()
    + primary_text_css()
    + json_value_css()
    + """
:root { --fm-border: #e5e7eb; --fm-surface: #ffffff; --fm-page: #f6f7f9; --fm-muted: #5b6270;
        --fm-hover: #f3f4f6; --fm-text: #111827; }
body.body--dark { --fm-border: #2e3440; --fm-surface: #1b1e24; --fm-page: #121418; --fm-muted: #9ca3af;
                  --fm-hover: #242831; --fm-text: #e5e7eb; }
body { background: var(--fm-page); color: var(--fm-text); }
.nicegui-content { padding: 0; }
/* words in Quasar's colours of outcome (errors, warnings, a test that passed) take the readable shades of the status
   words (theme.STATUS_TEXT_COLORS: 4.5:1 on every surface in both modes); Quasar's are 1.7-2.6:1 */
.text-negative { color: var(--fm-st-failed) !important; }
.text-positive { color: var(--fm-st-succeeded) !important; }
.text-warning { color: var(--fm-st-retrying) !important; }
/* muted text: Quasar's and Tailwind's greys take the one muted grey (4.5:1 on every surface, in both modes) */
.text-grey-5, .text-grey-6, .text-grey-7, .text-gray-400, .text-gray-500, .text-gray-600 {
  color: var(--fm-muted) !important; }

/* header */
.fm-header { background: var(--fm-surface) !important; color: var(--fm-text) !important;
             border-bottom: 1px solid var(--fm-border); }
.fm-brand { color: inherit; }
.fm-nav { color: var(--fm-muted) !important; border-radius: 8px; }
.fm-nav.fm-nav-active { color: var(--fm-primary-text) !important;
                        background: color-mix(in srgb, var(--q-primary) 10%, transparent); }
.fm-header-btn { color: var(--fm-muted) !important; }
/* the saved views drawer beside the page (widgets/saved_views.py) is as tall as the page, so its background runs
   down to the page's end at any scroll; its list stays in view below the header (sticky at the drawer's own top,
   which Quasar sets to the header's height). On a narrow screen it lies over the page, fixed, as Quasar has it */
.q-drawer--standard > .fm-drawer { position: sticky; top: inherit;
                                   height: calc(100vh - var(--fm-header-height)) !important; } /* not .fit's */
:root { --fm-header-height: 51px; }
.fm-header { min-height: var(--fm-header-height); }
/* narrow screens: the navigation tabs collapse into the menu button (shell.py) */
.fm-nav-menu { display: none !important; }
@media (max-width: 760px) {
  .fm-nav-row { display: none !important; }
  .fm-nav-menu:not(.hidden) { display: inline-flex !important; }
}
.fm-conn { display: flex; color: var(--fm-muted); padding: 2px 8px; border: 1px solid var(--fm-border);
           border-radius: 999px; }
.fm-conn-dot { width: 8px; height: 8px; border-radius: 50%; background: #9ca3af; display: inline-block; }
.fm-conn .fm-conn-online, .fm-conn .fm-conn-offline { display: none; }
.fm-conn[data-state=online] .fm-conn-dot { background: #22c55e; box-shadow: 0 0 0 3px rgba(34,197,94,.18); }
.fm-conn[data-state=online] .fm-conn-online { display: inline; }
.fm-conn[data-state=online] .fm-conn-connecting { display: none; }
.fm-conn[data-state=offline] .fm-conn-dot { background: #ef4444; }
.fm-conn[data-state=offline] .fm-conn-offline { display: inline; color: var(--fm-st-failed); }
.fm-conn[data-state=offline] .fm-conn-connecting { display: none; }
/* a phone: the dot alone ("Connecting" would push the header onto a second line); the word stays for screen readers */
@media (max-width: 480px) {
  .fm-conn { padding: 6px; position: relative; }
  .fm-conn > span.text-xs { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%);
                            white-space: nowrap; }
}

/* node list (widgets/node_list.js): one short class per part, the rows are the bulk of a big page. Beside the
   canvas it is one column; below it (a page too narrow for both side by side) as many as its width holds */
.fm-nl { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 320px), 1fr)); column-gap: 16px;
         align-content: start; }

.fm-nr { display: flex; flex-wrap: nowrap; align-items: center; gap: 8px; width: 100%; padding: 6px 8px;
         content-visibility: auto; contain-intrinsic-size: auto 52px;
         cursor: pointer; border-radius: 4px; border-bottom: 1px solid var(--fm-border, #e5e7eb); }
.fm-nr:hover { background: var(--fm-hover, #f3f4f6); }
.fm-nr.fm-nr-selected { background: color-mix(in srgb, #6366f1 14%, transparent); }
.fm-nr i { font-size: 18px; flex-shrink: 0; }
.fm-nr-main { min-width: 0; flex-grow: 1; }
/* nothing is cut: a name, an id or a detail (a skip reason: "upstream 'parse_rows' failed") that does not fit
   wraps, the detail in at most half the row, so a long one leaves the name its room */
.fm-nr-name { font-size: .875rem; font-weight: 500; overflow-wrap: anywhere; }
.fm-nr-id { font-size: .75rem; color: var(--fm-muted); overflow-wrap: anywhere;
            font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.fm-nr-side { flex-shrink: 1; min-width: 0; max-width: 50%; text-align: right; }
.fm-node-status { font-size: .75rem; font-weight: 600; text-transform: uppercase; letter-spacing: .025em; }
.fm-nr-detail { font-size: .75rem; color: var(--fm-muted); overflow-wrap: anywhere; }
.fm-slow-note { color: #92400e; background: #fef3c7; border: 1px dashed #d97706; }
body.body--dark .fm-slow-note { color: #fcd34d; background: rgba(217, 119, 6, .14); }
.fm-nr-slow { color: var(--fm-st-retrying); margin-right: 6px; text-transform: none; cursor: help; }
/* the node inspector (widgets/inspector.py) covers none of the page: beside it on a wide screen, the page (its
   canvas, node list, Timeline and the Timeline's slider) narrows to the room left of it; on a narrower one it is a
   sheet along the bottom, and the page gets room below its end to scroll every part of it above the sheet */
/* (lib/fm-sheet.js's screenBottom knows the sheet's 45% and the 900 px) */
/* The body says the inspector is open by a class its dialog sets as it starts to show (fm-inspecting) and to hide
   (fm-inspector-leaving), not by a :has() selector: with `body:has(.fm-inspector)` each change to the page (a line of
   the event log, a row of the node list) cost the browser 4.5 times the style work, and a live execution page's frame
   rate fell from 30 to 8 a second */
:root { --fm-inspector-width: clamp(360px, 32vw, 520px); --fm-inspector-sheet: 45vh; }
.q-dialog__inner > .fm-inspector { width: var(--fm-inspector-width); height: calc(100vh - 120px);
                                   margin: 72px 16px 0 0; }
body.fm-inspecting .q-page-container { padding-right: calc(var(--fm-inspector-width) + 16px); }
/* the page narrows as the panel slides in and widens as it slides out, in step with it (the dialog's 0.3 s and
   easing), where it jumped to its new width at once; the canvas keeps its view meanwhile (it is resized, not laid
   out again) */
.q-page-container { transition: padding-right .3s cubic-bezier(0.215, 0.61, 0.355, 1); }
body.fm-inspector-leaving .q-page-container { padding-right: 0; }
@media (prefers-reduced-motion: reduce) { .q-page-container { transition: none; } }
/* a notification slides and fades in and out over 1 s (Quasar's): for a visitor who asks for less motion it comes and
   goes at once (a "Cancelling…" withdrawn as the page shows the execution ended went on showing for that second) */
@media (prefers-reduced-motion: reduce) { .q-notification { transition: none; } }
/* (a page as narrow as a phone's: its rows of buttons wrap as on a phone) */
body.fm-inspecting .fm-wrap-narrow.no-wrap { flex-wrap: wrap !important; }
body.fm-inspecting .fm-wrap-narrow > * { max-width: 100%; }
/* beside the open inspector an execution's actions (Rerun…, Replay, Compare, Export, Delete) keep one line at 1280 px
   (where Delete went onto a second, moving what is below while the page narrowed): less room about their labels and
   icons, from the moment the panel comes (the page narrows to what they take then) */
@media (min-width: 900px) {
  body.fm-inspecting .fm-actions .q-btn { padding-left: 10px; padding-right: 10px; }
  body.fm-inspecting .fm-actions .q-btn .q-icon.on-left { margin-right: 6px; }
}
@media (max-width: 899px) {
  .fm-inspector-dialog > .q-dialog__inner { left: 0; padding: 0; align-items: flex-end; }
  .q-dialog__inner > .fm-inspector { width: 100%; max-width: none; height: var(--fm-inspector-sheet);
                                     max-height: none; margin: 0; border-radius: 12px 12px 0 0 !important; }
  body.fm-inspecting .q-page-container { padding-right: 0; padding-bottom: var(--fm-inspector-sheet); }
  /* the sheet slides up from the bottom and back down (the dialog's own transitions, for a side panel, slide it in
     from the right and out to it) */
  .fm-inspector-dialog > .q-dialog__inner.q-transition--slide-left-enter-from,
  .fm-inspector-dialog > .q-dialog__inner.q-transition--slide-right-leave-to { transform: translate3d(0, 100%, 0); }
}

/* page scaffolding */
.fm-frame { width: 100%; }
.fm-page { max-width: 1400px; margin: 0 auto; padding: 24px 24px 48px; }
/* phones: nothing wider than the screen; wide tables scroll inside their card */
@media (max-width: 760px) {
  .fm-page { padding: 16px 12px 40px; }
  .fm-page-head > * { max-width: 100%; flex-shrink: 1 !important; }
  .fm-wrap-narrow.no-wrap { flex-wrap: wrap !important; }
  .fm-wrap-narrow > * { max-width: 100%; }
  /* a head of a title and its buttons: the title on its line, the buttons on the next, each on one line */
  .fm-head-wrap.no-wrap { flex-wrap: wrap !important; }
  .fm-head-wrap > .fm-head-title { flex-basis: 100%; }
}
.fm-head-wrap > .q-btn { flex-shrink: 0; white-space: nowrap; }
.fm-title { font-size: 1.5rem; font-weight: 600; letter-spacing: -0.01em; line-height: 1.3; overflow-wrap: anywhere;
            min-width: 0; }
.fm-panel { background: var(--fm-surface) !important; border-color: var(--fm-border) !important;
            border-radius: 12px !important; padding: 16px 18px; gap: 12px; box-shadow: none; }
.fm-panel-title { font-size: 1rem; font-weight: 600; }
.fm-split { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 16px; align-items: stretch; }
@media (max-width: 1000px) { .fm-split { grid-template-columns: minmax(0, 1fr); } }
.fm-link { color: var(--fm-primary-text); text-decoration: none; }
.fm-link:hover { text-decoration: underline; }
.fm-mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.85em; }
.fm-ellipsis { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; min-width: 0; }
/* a button's label is a span inside its content: it is that span that is cut, with its icon kept beside it */
.fm-view-name .q-btn__content > .block { overflow: hidden; text-overflow: ellipsis; }
/* for screen readers only (a live region's announcement): in the page's text, not on the screen */
.fm-sr-only { position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden;
              clip: rect(0, 0, 0, 0); white-space: nowrap; border: 0; }
.fm-clamp-3 { display: -webkit-box; -webkit-line-clamp: 3; -webkit-box-orient: vertical; overflow: hidden; }
.fm-clamp-2 { display: -webkit-box; -webkit-line-clamp: 2; -webkit-box-orient: vertical; overflow: hidden;
               white-space: normal; overflow-wrap: anywhere; }
.fm-description { max-width: 80ch; color: var(--fm-muted); }
.fm-empty { color: var(--fm-text); }
/* verbatim multi-line text (widgets/text_block.py): JSON, tracebacks, request and response bodies */
.fm-pre { margin: 0; width: 100%; max-height: 360px; overflow: auto; padding: 8px 12px; border-radius: 8px;
          border: 1px solid var(--fm-border); background: var(--fm-page); color: var(--fm-text);
          font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.75rem;
          line-height: 1.5; white-space: pre-wrap; overflow-wrap: anywhere; tab-size: 2; }

/* metric cards */
.fm-metrics { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 16px; }
@media (max-width: 1100px) { .fm-metrics { grid-template-columns: repeat(2, minmax(0, 1fr)); } }
.fm-metric { display: flex; flex-direction: column; gap: 2px; padding: 14px 16px; color: var(--fm-text);
             background: var(--fm-surface); border: 1px solid var(--fm-border); border-radius: 12px;
             transition: border-color .15s, transform .15s; min-width: 0; }
.fm-metric:hover { border-color: var(--q-primary); transform: translateY(-1px); }
.fm-metric-label { font-size: 0.8rem; font-weight: 500; color: var(--fm-muted); text-transform: uppercase;
                   letter-spacing: 0.04em; }
.fm-metric-icon { color: var(--fm-muted); }
.fm-metric-value { font-size: 1.9rem; font-weight: 600; line-height: 1.2; font-variant-numeric: tabular-nums; }
/* a hint wraps rather than being cut: "succeeded / (succeeded + failed), today" says what the number is */
.fm-metric-hint { font-size: 0.75rem; color: var(--fm-muted); overflow-wrap: anywhere; }

/* workflows */
.fm-editor-grid { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 16px; align-items: start; }
@media (max-width: 1100px) { .fm-editor-grid { grid-template-columns: minmax(0, 1fr); } }
.fm-editor-status { min-height: 1.4em; overflow-wrap: anywhere; white-space: pre-wrap; }
.fm-diff { max-height: 60vh; overflow: auto; border: 1px solid var(--fm-border); border-radius: 8px; padding: 8px 12px;
           font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.75rem; }
.fm-diff-legend { font-family: inherit; margin-bottom: 6px; }
.fm-diff-block { margin: 0; align-self: stretch; white-space: pre-wrap; overflow-wrap: anywhere; line-height: 1.5; }
.fm-diff-removed { color: var(--fm-st-failed); } .fm-diff-block.fm-diff-removed { background: rgba(239, 68, 68, .16); }
.fm-diff-added { color: var(--fm-st-succeeded); } .fm-diff-block.fm-diff-added { background: rgba(34, 197, 94, .16); }
.fm-diff-fold { opacity: .5; }
.fm-code-editor { border: 1px solid var(--fm-border); border-radius: 8px; overflow: hidden; }
.fm-note { padding: 8px 12px; border-radius: 8px; color: var(--fm-text);
           border: 1px solid color-mix(in srgb, var(--q-primary) 35%, transparent);
           background: color-mix(in srgb, var(--q-primary) 7%, transparent); }
.fm-scroll-x { overflow-x: auto; max-width: 100%; }
.fm-stats-table { display: grid; grid-template-columns: minmax(120px, 1fr) repeat(3, 80px); column-gap: 16px;
                  row-gap: 2px; font-size: 0.8rem; min-width: 380px; }
.fm-stats-head { font-size: 0.72rem; font-weight: 600; text-transform: uppercase; letter-spacing: 0.05em;
                 color: var(--fm-muted); }
.fm-stats-head:not(:first-child) { text-align: right; }
.fm-workflow-row { padding: 10px 2px; border-bottom: 1px solid var(--fm-border); }
.fm-workflow-row:last-child { border-bottom: none; }

/* keyboard shortcuts */
.fm-kbd { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 0.8rem; min-width: 3.2rem;
          padding: 1px 6px; border: 1px solid var(--fm-border); border-radius: 4px; text-align: center; }

/* execution table */
/* The name column never shrinks below 160 px: a table narrower than its columns scrolls sideways in its card
   (a phone, or a laptop with the saved views open) instead of squeezing the workflow's name to nothing. */
/* Each column is as wide as its longest value needs, with room for a wider font than Roboto: the status
   "interrupted" (79 px), the trigger "Webhook" with its icon (78 px), the time "2026-12-31 23:58" in tabular figures
   (109 px; "Mar 02 14:03" this year, "14:03:07" today), the duration "999h 59m" (63 px); Started and Duration in rem,
   so that the head (smaller type) and the rows share them. The room they leave is the workflow's name and message. */
.fm-table { --fm-started: 7.5rem; --fm-duration: 5rem; overflow-x: auto;
            --fm-cols: 96px 96px 92px minmax(160px, 1fr) var(--fm-started) var(--fm-duration) 72px; }
.fm-table.fm-table-select {
  --fm-cols: 36px 96px 96px 92px minmax(160px, 1fr) var(--fm-started) var(--fm-duration) 72px; }
.fm-what { display: flex; align-items: baseline; gap: 10px; }
.fm-what .fm-name { flex: 0 1 auto; }
.fm-message { color: var(--fm-muted); font-size: 0.8rem; flex: 1 1 0; }
.fm-table-head, .fm-table-row { display: grid; grid-template-columns: var(--fm-cols); align-items: center;
                                column-gap: 12px; padding: 8px 10px; }
.fm-table-head { font-size: 0.72rem; font-weight: 600; text-transform: uppercase; letter-spacing: 0.05em;
                 color: var(--fm-muted); border-bottom: 1px solid var(--fm-border); }
.fm-table-row { color: var(--fm-text); border-bottom: 1px solid var(--fm-border); font-size: 0.875rem; }
.fm-table-row:last-child { border-bottom: none; }
.fm-table-row:hover { background: var(--fm-hover); }
.fm-table-head, .fm-table-row { min-width: min-content; }
/* phones: the name comes right after the status, so that it is read without scrolling sideways */
@media (max-width: 760px) {
  .fm-table.fm-table-reorder {
    --fm-cols: 96px minmax(160px, 1fr) 96px 92px var(--fm-started) var(--fm-duration) 72px; }
  .fm-table.fm-table-reorder.fm-table-select {
    --fm-cols: 36px 96px minmax(160px, 1fr) 96px 92px var(--fm-started) var(--fm-duration) 72px; }
  .fm-table-reorder .fm-table-head > *, .fm-table-reorder .fm-table-row > * { order: 2; }
  .fm-table-reorder .fm-table-head > .fm-col-lead, .fm-table-reorder .fm-table-row > .fm-col-lead { order: 0; }
  .fm-table-reorder .fm-table-head > .fm-col-what, .fm-table-reorder .fm-table-row > .fm-col-what { order: 1; }
}
.fm-cell { min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.fm-right { text-align: right; }
.fm-num { font-variant-numeric: tabular-nums; }
.fm-pager { padding-top: 4px; }

/* status badges */
.fm-status { font-weight: 600; letter-spacing: 0.02em; padding: 3px 8px; border-radius: 999px; }
.fm-status-active { animation: fm-pulse 1.6s ease-in-out infinite; }
/* a ring that swells and fades around the badge; the badge itself stays opaque, its word at full contrast */
@keyframes fm-pulse { 0%, 100% { box-shadow: 0 0 0 0 rgba(100, 116, 139, 0); }
                      50% { box-shadow: 0 0 0 3px rgba(100, 116, 139, .45); } }
@media (prefers-reduced-motion: reduce) { .fm-status-active { animation: none; } }

/* webhooks: delivery table, attempt timeline, endpoints, request facts */
.fm-metrics.fm-metrics-5 { grid-template-columns: repeat(5, minmax(0, 1fr)); }
@media (max-width: 1100px) { .fm-metrics.fm-metrics-5 { grid-template-columns: repeat(2, minmax(0, 1fr)); } }
.fm-delivery-table { --fm-cols: 104px minmax(160px, 1fr) 150px 72px 150px 96px 110px; }
.fm-good { color: var(--fm-st-succeeded); }
.fm-bad { color: var(--fm-st-failed); }
.fm-chip { font-size: 0.72rem; padding: 1px 8px; border-radius: 999px; border: 1px solid var(--fm-border);
           color: var(--fm-muted); }
.fm-endpoint { padding: 12px 2px; border-bottom: 1px solid var(--fm-border); display: flex; flex-direction: column;
               gap: 8px; }
.fm-endpoint:last-child { border-bottom: none; }
.fm-endpoint-off { opacity: .85; }
.fm-callout { padding: 8px 12px; border-radius: 8px; border: 1px solid color-mix(in srgb, #ef4444 40%, transparent);
              background: color-mix(in srgb, #ef4444 8%, transparent); }
.fm-endpoint-head > .fm-endpoint-main { flex: 1 1 0; min-width: 0; }
.fm-secret-row { padding-left: 46px; row-gap: 4px; }
.fm-secret-main { flex: 0 1 auto; min-width: 0; max-width: 100%; }
.fm-secret-main > .q-btn, .fm-secret-main > .q-icon { flex-shrink: 0; }
/* until when the previous secret still signs: a line under the secret, aligned with its text */
.fm-secret-grace { flex-basis: 100%; padding-left: 26px; }
/* a secret wraps anywhere, to be read whole (not cut with an ellipsis) */
.fm-secret { font-size: 0.8rem; }
.fm-secret.fm-ellipsis { white-space: normal; overflow-wrap: anywhere; word-break: break-all; }
.fm-test-result { flex: 0 1 auto; min-width: 0; }
/* long text from outside (an endpoint's URL): one line with an ellipsis, the whole of it in a tooltip; on a phone
   it wraps anywhere instead. fm-break: text that wraps anywhere on every screen. */
.fm-url { max-width: 100%; }
.fm-break { overflow-wrap: anywhere; }
@media (max-width: 760px) {
  .fm-url.fm-ellipsis { white-space: normal; overflow-wrap: anywhere; word-break: break-all; }
  /* an endpoint: its figures go under its name and URL, aligned with them */
  .fm-endpoint-head.no-wrap { flex-wrap: wrap !important; row-gap: 8px; }
  .fm-endpoint-head > .fm-endpoint-main { flex-basis: calc(100% - 52px); }
  .fm-endpoint-health { padding-left: 51px; flex-wrap: wrap !important; }
  .fm-endpoint-health > * { align-items: flex-start !important; }
  /* the secret stays aligned with them; its actions take the whole width of the line under it */
  .fm-secret-row { padding-left: 0; }
  .fm-secret-main { padding-left: 46px; }
  .fm-secret-grace { padding-left: 72px; }
  .fm-secret-actions { flex-wrap: wrap !important; justify-content: flex-end; max-width: 100%; }
  /* the outcome of a test event gets a line of its own, wrapped */
  .fm-test-row.no-wrap { flex-wrap: wrap !important; row-gap: 2px; }
  .fm-test-result { order: 1; flex-basis: 100%; padding-left: 4px; }
  .fm-test-result > .fm-ellipsis { white-space: normal; overflow-wrap: anywhere; }
  .fm-delivery-head { flex-basis: 100% !important; }
  /* a delivery's facts (its webhook-id, the last response, when): wrapped, to be read whole */
  .fm-fact > .fm-ellipsis { white-space: normal; overflow-wrap: anywhere; }
  /* a secret's name: whole on a line of its own beside its key, when it changed and its actions on the next */
  .fm-secret-item.no-wrap { flex-wrap: wrap !important; row-gap: 2px; justify-content: flex-end; }
  .fm-secret-item > .fm-secret-name { flex-basis: calc(100% - 32px); white-space: normal; overflow-wrap: anywhere; }
  /* a secret's Replace and Delete: 12 px text, where a desktop has the 14 px of the app's buttons */
  .fm-secret-item .q-btn:not(.q-btn--round) { font-size: 12px !important; }
  /* an endpoint's actions (Send test event, Edit, Delete..., the Deliveries link): 12 px text, where a desktop has
     the 14 px of the app's buttons (round icon buttons keep their size) */
  .fm-endpoint .q-btn:not(.q-btn--round), .fm-endpoint .fm-secret-actions .fm-link { font-size: 12px !important; }
}
@media (max-width: 480px) {
  /* the masked secret and its Reveal keep one line: the secret starts under the switch, not under the name */
  .fm-secret-main { padding-left: 0; }
  .fm-secret-grace { padding-left: 26px; }
  .fm-secret { font-size: 0.75rem; }
}
.fm-subhead { font-size: 0.72rem; font-weight: 600; text-transform: uppercase; letter-spacing: 0.05em;
              color: var(--fm-muted); margin-top: 6px; }
.fm-headers { display: grid; grid-template-columns: minmax(120px, max-content) minmax(0, 1fr); column-gap: 14px;
              row-gap: 2px; font-size: 0.8rem; width: 100%; }
.fm-header-name { color: var(--fm-muted); }
.fm-header-value { overflow-wrap: anywhere; }
.fm-facts { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 8px 16px; }
.fm-fact { display: flex; flex-direction: column; min-width: 0; font-size: 0.875rem; }
.fm-fact-label { font-size: 0.72rem; color: var(--fm-muted); }
.fm-attempts .q-timeline__title { font-size: 0.95rem; font-weight: 600; margin-bottom: 2px; }
.fm-attempts .q-timeline__subtitle { font-size: 0.75rem; opacity: 1; color: var(--fm-muted); text-transform: none;
                                     letter-spacing: 0; font-weight: 400; }
.fm-attempts .q-timeline__content { padding-bottom: 14px; }
.fm-exchange .q-item { padding-left: 0; min-height: 32px; }
"""
)


def layered(css: str) -> str:
    """``css`` in NiceGUI's ``overrides`` cascade layer. NiceGUI puts Quasar's ``!important`` utilities
    (``text-primary``, ``text-grey-7``...) in the last layer, and an ``!important`` rule outside the layers loses to
    them whatever its selector (the cascade reverses layer order for important rules): this sheet's would not apply.
    ``overrides`` comes before that layer and after every other one, so these rules still win the normal cascade
    over Quasar, Tailwind and NiceGUI, and their ``!important`` ones win over Quasar's. (CSS outside any layer would
    now beat these rules; the app adds none, and the editors' and charts' own styles name only their classes.)"""
    return f'@layer overrides {{\n{css}\n}}\n'
