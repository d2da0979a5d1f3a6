// CloudFront Function (viewer-request): answers 404 itself, so the request never reaches the
// origin. Attached only to the behaviours of paths that are not for viewers.
function handler(event) {
  return {
    statusCode: 404,
    statusDescription: "Not Found",
    headers: { "cache-control": { value: "no-store" } },
  };
}
