// The node inspector's sheet on a narrow window (style.py's .fm-inspector): under 900 px the inspector is a sheet along
// the bottom 45% of the window, and what is picked on the page (a row of the node list, of the Timeline) is brought
// above it. Shared by the node list and the Timeline.
export const SHEET_BELOW_PX = 900;
export const SHEET_SHARE = 0.45;

// The bottom of what the reader sees of a window `width` x `height` while a node is picked: the window's own, or on a
// window under 900 px the top of the sheet (a pick opens the inspector, which may not be drawn yet when the page
// brings the picked row into view).
export function screenBottom(width, height) {
  return width < SHEET_BELOW_PX ? Math.round(height * (1 - SHEET_SHARE)) : height;
}

const MARGIN_PX = 8; // between what is brought above the sheet and the sheet

// The bottom of the app's header (px from the window's top): what is above it is not seen.
export function headerBottom() {
  return document.querySelector(".q-header")?.getBoundingClientRect().bottom ?? 0;
}

// The room (px) above the sheet of a window `width` x `height` for a part of the page: the room between the header's
// bottom (`header`) and the sheet, less `chrome` (what the part has around it, its card's title and padding) and a
// margin; null on a wide window, which has no sheet.
export function roomAbove(width, height, header, chrome) {
  if (width >= SHEET_BELOW_PX) return null;
  return Math.max(0, Math.floor(screenBottom(width, height) - header - chrome - MARGIN_PX));
}

// How far to scroll the page (px) for a row drawn at [top, bottom] (px from the window's top) to be seen above the
// sheet once it opens: 0 on a wide window, for a row above the sheet's top already, or for one off the screen (not
// where the reader clicked); else what puts the row in the middle of the room between the header and the sheet.
export function liftBy(top, bottom, header, width, height) {
  const sheet = screenBottom(width, height);
  if (width >= SHEET_BELOW_PX || bottom <= sheet || top >= height || bottom <= header) return 0;
  return Math.round((top + bottom) / 2 - (header + sheet) / 2);
}

// Scroll the page by `by` px once the sheet is drawn (the room it gives below the page's end comes with it: a scroll
// before then would stop at the page's end); `frames`: how many frames it is waited for at most (a second).
export function liftPage(by, frames = 60) {
  if (by === 0) return;
  if (document.querySelector(".fm-inspector") || frames <= 0) window.scrollBy(0, by);
  else requestAnimationFrame(() => liftPage(by, frames - 1));
}
