// Images in the artifact browser. The file comes through the artifact
// endpoint (with the token, which an <img src> could not send) and is shown
// as an <img> from a blob: an SVG shown that way never runs its scripts.

import { h, errorBox } from "./app.js";
import { authorizedFetch } from "./token.js";

export const IMAGE_ARTIFACTS = /\.(png|jpe?g|gif|svg|webp)$/i;

export async function imagePreview(runId, path) {
  const response = await authorizedFetch("/get-artifact?" + new URLSearchParams({ run_id: runId, path }));
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try { message = (await response.json()).message || message; } catch { /* not JSON */ }
    return errorBox(message);
  }
  const url = URL.createObjectURL(await response.blob());
  const img = h("img", { class: "artifact-image", src: url, alt: `Image artifact ${path}`, "data-path": path });
  img.addEventListener("load", () => URL.revokeObjectURL(url), { once: true });
  return img;
}
