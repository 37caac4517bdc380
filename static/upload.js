// Browser-to-S3 upload with a presigned POST: the app only signs, S3 receives the bytes.
// The file's size and type are checked here first, against the limits the page
// carries (the same ones the presigned POST's policy states), so a file S3 would
// refuse is not sent at all: the site is not asked for a form, S3 gets no bytes.
// The bar and the messages say each outcome: progress, done (green), failed (red,
// aria-valuetext "Upload failed", the reason in a role=alert paragraph).
// After a success the page reloads to list the file; the outcome is kept for that
// reload in sessionStorage, so the reloaded page still says "Uploaded <key>".
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
  function sizeInWords(bytes) {
    if (bytes >= 1048576) return (bytes / 1048576).toFixed(1).replace(/\.0$/, "") + " MB";
    if (bytes >= 1024) return (bytes / 1024).toFixed(1).replace(/\.0$/, "") + " KB";
    return bytes + " bytes";
  }
  // Why this file may not be sent, or null when it may.
  function refusal(file, maxBytes, types) {
    if (file.size > maxBytes) {
      return file.name + " is " + sizeInWords(file.size) + ": files may be at most " +
        sizeInWords(maxBytes) + ". Nothing was sent.";
    }
    if (file.size === 0) return file.name + " is empty: S3 would refuse it. Nothing was sent.";
    if (types.indexOf(file.type) < 0) {
      return file.name + " is of type " + (file.type || "unknown") + "; accepted: " +
        types.join(", ") + ". Nothing was sent.";
    }
    return null;
  }
  document.addEventListener("DOMContentLoaded", function () {
    const form = document.getElementById("upload-form");
    if (!form) return;
    const bar = document.getElementById("upload-progress");
    const status = document.getElementById("upload-status");
    const alert = document.getElementById("upload-error");
    const maxBytes = Number(form.dataset.maxBytes);
    const types = (form.dataset.types || "").split(" ").filter(Boolean);

    function barState(state, words) {
      bar.classList.remove("failed", "done");
      if (state) bar.classList.add(state);
      if (words) bar.setAttribute("aria-valuetext", words);
      else bar.removeAttribute("aria-valuetext");
    }
    function fail(message) {
      status.textContent = "";
      alert.textContent = message;
      if (!bar.hidden) barState("failed", "Upload failed");
      form.dataset.state = "failed";
    }
    function showDone(key) {
      bar.hidden = false;
      bar.value = 100;
      barState("done", "Uploaded");
      form.dataset.state = "done";
      status.textContent = "Uploaded " + key;
    }
    const UPLOADED = "fedlab-uploaded";
    let uploaded = null;
    try {
      uploaded = window.sessionStorage.getItem(UPLOADED);
      window.sessionStorage.removeItem(UPLOADED);
    } catch (e) { uploaded = null; }
    if (uploaded) showDone(uploaded);
    form.elements.file.addEventListener("change", function () {
      alert.textContent = "";
      status.textContent = "";
      bar.hidden = true;
      barState(null, null);
      form.dataset.state = "";
    });

    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      const file = form.elements.file.files[0];
      if (!file) return;
      alert.textContent = "";
      bar.hidden = true;
      barState(null, null);
      const refused = refusal(file, maxBytes, types);
      if (refused) { fail(refused); return; }
      form.dataset.state = "uploading";
      status.textContent = "Asking the site for an upload form…";
      let answer, grant;
      try {
        answer = await post(form.dataset.url, { name: file.name, type: file.type }, form.dataset.csrf);
        grant = await answer.json().catch(function () { return { error: "HTTP " + answer.status }; });
      } catch (e) {
        fail("The site could not be reached; nothing was sent.");
        return;
      }
      if (!answer.ok) { fail(grant.error || "The site refused to sign an upload."); return; }
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
          showDone(grant.key);
          try { window.sessionStorage.setItem(UPLOADED, grant.key); } catch (e) { /* none kept */ }
          window.setTimeout(function () { window.location.reload(); }, 400);
        } else {
          fail("S3 refused the upload: " + s3Message(xhr));
        }
      });
      xhr.addEventListener("error", function () { fail("Upload failed: S3 could not be reached."); });
      status.textContent = "Uploading to S3…";
      xhr.send(data);
    });
  });
})();
