// The node inspector's sheet on a narrow window (style.py's .fm-inspector): under 900 px the inspector is a sheet along
// the bottom 45% of the window. Shared by the node list and the Timeline.
export const SHEET_BELOW_PX = 900;
export const SHEET_SHARE = 0.45;

// The bottom of what the reader sees of a window `width` x `height` while a node is picked: the window's own, or on a
// window under 900 px the top of the sheet (a pick opens the inspector, which may not be drawn yet when the page
// brings the picked row into view).
export function screenBottom(width, height) {
  return width < SHEET_BELOW_PX ? Math.round(height * (1 - SHEET_SHARE)) : height;
}

const MARGIN_PX = 8; // between what is above the sheet and the sheet

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
