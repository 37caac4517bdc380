// Browser-to-S3 upload with a presigned POST: the app only signs, S3 receives the bytes.
"use strict";
(function () {
  function post(url, body, csrf) {
    return fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
  }
  function s3Message(xhr) {
    const text = xhr.responseText || "";
    const code = /<Code>([^<]*)<\/Code>/.exec(text);
    const message = /<Message>([^<]*)<\/Message>/.exec(text);
    return code ? code[1] + (message ? ": " + message[1] : "") : "HTTP " + xhr.status;
  }
  document.addEventListener("DOMContentLoaded", function () {
    const form = document.getElementById("upload-form");
    if (!form) return;
    const bar = document.getElementById("upload-progress");
    const status = document.getElementById("upload-status");
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      const file = form.elements.file.files[0];
      if (!file) return;
      status.textContent = "Asking the site for an upload form…";
      const answer = await post(form.dataset.url, { name: file.name, type: file.type }, form.dataset.csrf);
      const grant = await answer.json().catch(function () { return { error: "HTTP " + answer.status }; });
      if (!answer.ok) { status.textContent = grant.error || "Refused"; return; }
      if (file.size > grant.max_bytes) {
        status.textContent = "S3 would refuse it: larger than " + grant.max_bytes + " bytes.";
      }
      const data = new FormData();
      Object.entries(grant.fields).forEach(function ([k, v]) { data.append(k, v); });
      data.append("file", file);
      const xhr = new XMLHttpRequest();
      xhr.open("POST", grant.url);
      bar.hidden = false;
      bar.value = 0;
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) bar.value = Math.round((100 * e.loaded) / e.total);
      });
      xhr.addEventListener("load", function () {
        if (xhr.status >= 200 && xhr.status < 300) {
          bar.value = 100;
          status.textContent = "Uploaded " + grant.key;
          window.setTimeout(function () { window.location.reload(); }, 400);
        } else {
          status.textContent = "S3 refused the upload: " + s3Message(xhr);
        }
      });
      xhr.addEventListener("error", function () { status.textContent = "Upload failed: S3 could not be reached."; });
      status.textContent = "Uploading to S3…";
      xhr.send(data);
    });
  });
})();
