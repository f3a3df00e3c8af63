// A tiny hash router: `#/runs/abc` -> ["runs", "abc"]. Hash routes need no server rewrite
// and keep every screen a bookmarkable address.
import { useEffect, useState } from "react";

/** A route part decoded; a malformed escape (`%`, `%E0%A4%A`, from a typed or crafted address)
 * is kept as it is: decodeURIComponent throws on it, which left a blank page with no navigation. */
function decodePart(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

export function currentRoute(): string[] {
  return window.location.hash.replace(/^#\/?/, "").split("?")[0].split("/").filter(Boolean).map(decodePart);
}

export function routeQuery(): URLSearchParams {
  const hash = window.location.hash;
  const at = hash.indexOf("?");
  return new URLSearchParams(at < 0 ? "" : hash.slice(at + 1));
}

export function useRoute(): string[] {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const update = () => setRoute(currentRoute());
    window.addEventListener("hashchange", update);
    return () => window.removeEventListener("hashchange", update);
  }, []);
  return route;
}

export function href(...parts: string[]): string {
  return `#/${parts.map(encodeURIComponent).join("/")}`;
}

export function navigate(...parts: string[]): void {
  window.location.hash = href(...parts);
}
