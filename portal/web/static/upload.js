// Uploads a dataset version from the browser, no build step and no library:
//   1. sha256 of every chosen file (crypto.subtle, or an incremental fallback for big files and
//      for pages served over plain http, where crypto.subtle does not exist);
//   2. the manifest (path, size, sha256) to the portal, which answers with presigned part URLs
//      (parts already stored are skipped: choosing the same files again resumes an upload);
//   3. each part PUT straight to its URL, a few at a time, with a progress bar;
//   4. "complete": the portal verifies sizes and checksums, validates and scans.
(function () {
  "use strict";
  var form = document.querySelector("form[data-upload]");
  if (!form) return;
  var progress = document.getElementById("upload-progress");
  var status = document.getElementById("upload-status");
  var next = document.getElementById("upload-next");
  var button = document.getElementById("upload-submit");
  var filesInput = document.getElementById("upload-files");
  var folderInput = document.getElementById("upload-folder");
  var csrf = form.getAttribute("data-csrf");
  var PARALLEL = 3;
  var RETRIES = 3;
  var CHUNK = 4 * 1024 * 1024;
  var SUBTLE_LIMIT = 256 * 1024 * 1024;  // crypto.subtle needs the whole file in memory

  function msg(name, params) {
    var text = form.getAttribute("data-msg-" + name) || name;
    Object.keys(params || {}).forEach(function (key) { text = text.split("{" + key + "}").join(String(params[key])); });
    return text;
  }
  function say(text, isError) {
    status.textContent = text;
    status.classList.toggle("is-error", Boolean(isError));
  }
  function setProgress(fraction) {
    var percent = Math.min(100, Math.floor(fraction * 100));
    progress.value = percent;
    progress.textContent = percent + "%";
    return percent;
  }
  function size(bytes) {
    var units = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0;
    while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i += 1; }
    return (i ? bytes.toFixed(1) : String(bytes)) + " " + units[i];
  }

  // Files picked one by one keep their names; a picked folder keeps the paths below it
  // (the folder is the dataset's root), leaving out hidden files such as .DS_Store.
  function chosen() {
    var entries = [];
    Array.prototype.forEach.call(filesInput.files, function (file) { entries.push({ file: file, path: file.name }); });
    Array.prototype.forEach.call(folderInput ? folderInput.files : [], function (file) {
      var path = file.webkitRelativePath || file.name;
      var cut = path.indexOf("/");
      path = cut >= 0 ? path.slice(cut + 1) : path;
      if (path.split("/").some(function (part) { return part.charAt(0) === "."; })) return;
      entries.push({ file: file, path: path });
    });
    return entries;
  }
  function describe() {
    var entries = chosen();
    var total = entries.reduce(function (sum, e) { return sum + e.file.size; }, 0);
    say(entries.length ? msg("selected", { count: entries.length, size: size(total) }) : "");
  }
  filesInput.addEventListener("change", describe);
  if (folderInput) folderInput.addEventListener("change", describe);

  // --- sha256 --------------------------------------------------------------------------------
  var K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
  ]);
  function Sha256() {
    this.h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
    this.w = new Uint32Array(64);
    this.buf = new Uint8Array(64);
    this.buffered = 0;
    this.length = 0;
  }
  Sha256.prototype.block = function (d, o) {
    var w = this.w, h = this.h, i;
    for (i = 0; i < 16; i++) w[i] = (d[o + 4 * i] << 24) | (d[o + 4 * i + 1] << 16) | (d[o + 4 * i + 2] << 8) | d[o + 4 * i + 3];
    for (i = 16; i < 64; i++) {
      var x = w[i - 15], y = w[i - 2];
      var s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      var s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
    }
    var a = h[0], b = h[1], c = h[2], e = h[4], f = h[5], g = h[6], dd = h[3], hh = h[7];
    for (i = 0; i < 64; i++) {
      var t1 = (hh + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) +
        ((e & f) ^ (~e & g)) + K[i] + w[i]) | 0;
      var t2 = ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) +
        ((a & b) ^ (a & c) ^ (b & c))) | 0;
      hh = g; g = f; f = e; e = (dd + t1) | 0; dd = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += dd; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
  };
  Sha256.prototype.update = function (data) {
    var offset = 0, n = data.length;
    this.length += n;
    if (this.buffered) {
      var take = Math.min(64 - this.buffered, n);
      this.buf.set(data.subarray(0, take), this.buffered);
      this.buffered += take;
      offset = take;
      if (this.buffered < 64) return;
      this.block(this.buf, 0);
      this.buffered = 0;
    }
    for (; offset + 64 <= n; offset += 64) this.block(data, offset);
    if (offset < n) { this.buf.set(data.subarray(offset), 0); this.buffered = n - offset; }
  };
  Sha256.prototype.hex = function () {
    var bits = this.length * 8;
    var pad = new Uint8Array((this.buffered < 56 ? 64 : 128) - this.buffered);
    pad[0] = 0x80;
    var high = Math.floor(bits / 0x100000000), low = bits >>> 0, end = pad.length;
    [high, low].forEach(function (word, k) {
      for (var j = 0; j < 4; j++) pad[end - 8 + 4 * k + j] = (word >>> (24 - 8 * j)) & 255;
    });
    this.update(pad);
    return Array.prototype.map.call(this.h, function (v) { return ("0000000" + v.toString(16)).slice(-8); }).join("");
  };
  window.aicommonsSha256 = Sha256;  // for the browser tests

  function hexOf(buffer) {
    return Array.prototype.map.call(new Uint8Array(buffer), function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function sha256(file, onBytes) {
    if (window.crypto && window.crypto.subtle && file.size <= SUBTLE_LIMIT) {
      return file.arrayBuffer().then(function (buffer) {
        return window.crypto.subtle.digest("SHA-256", buffer);
      }).then(function (digest) { onBytes(file.size); return hexOf(digest); });
    }
    var hash = new Sha256();
    function from(offset) {
      if (offset >= file.size) return Promise.resolve(hash.hex());
      return file.slice(offset, offset + CHUNK).arrayBuffer().then(function (buffer) {
        hash.update(new Uint8Array(buffer));
        onBytes(buffer.byteLength);
        return from(offset + CHUNK);
      });
    }
    return from(0);
  }

  // --- the portal and the store --------------------------------------------------------------
  function postJson(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) throw new Error((data.error && data.error.message) || "HTTP " + response.status);
        return data;
      });
    });
  }
  function putPart(url, blob, onLoaded) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open("PUT", url);
      xhr.upload.onprogress = function (event) { if (event.lengthComputable) onLoaded(event.loaded); };
      xhr.onload = function () {
        if (xhr.status >= 200 && xhr.status < 300) { onLoaded(blob.size); resolve(); return; }
        var detail = "HTTP " + xhr.status;
        try { detail = JSON.parse(xhr.responseText).error.message || detail; } catch (ignored) { /* not JSON */ }
        reject(new Error(detail));
      };
      xhr.onerror = function () { reject(new Error("network error")); };
      xhr.send(blob);
    });
  }
  function withRetries(task, left) {
    return task().catch(function (error) { if (left <= 1) throw error; return withRetries(task, left - 1); });
  }

  function uploadParts(plan, byPath) {
    var total = 0, done = 0, loaded = {}, jobs = [];
    plan.files.forEach(function (upload) {
      total += upload.size;
      var lastSize = upload.size - upload.part_size * (upload.part_count - 1);
      done += upload.done_parts.reduce(function (sum, n) { return sum + (n === upload.part_count ? lastSize : upload.part_size); }, 0);
      upload.parts.forEach(function (part) {
        var start = (part.number - 1) * upload.part_size;
        jobs.push({ key: upload.path + "#" + part.number, url: part.url, blob: byPath[upload.path].slice(start, start + upload.part_size) });
      });
    });
    function report() {
      var sent = Object.keys(loaded).reduce(function (sum, key) { return sum + loaded[key]; }, done);
      var percent = setProgress(total ? sent / total : 1);
      say(msg("uploading", { percent: percent }));
    }
    report();
    var queue = jobs.slice();
    function worker() {
      var job = queue.shift();
      if (!job) return Promise.resolve();
      return withRetries(function () {
        loaded[job.key] = 0;
        return putPart(job.url, job.blob, function (bytes) { loaded[job.key] = bytes; report(); });
      }, RETRIES).then(worker);
    }
    var workers = [];
    for (var i = 0; i < PARALLEL; i++) workers.push(worker());
    return Promise.all(workers).then(function () { setProgress(1); });
  }

  function start() {
    var entries = chosen();
    if (!entries.length) { say(msg("empty"), true); return; }
    button.disabled = true;
    next.hidden = true;
    setProgress(0);
    var totalBytes = entries.reduce(function (sum, e) { return sum + e.file.size; }, 0), hashed = 0;
    var manifest = [], byPath = {};
    var chain = Promise.resolve();
    entries.forEach(function (entry) {
      byPath[entry.path] = entry.file;
      chain = chain.then(function () {
        return sha256(entry.file, function (bytes) {
          hashed += bytes;
          say(msg("hashing", { percent: totalBytes ? Math.floor(100 * hashed / totalBytes) : 100 }));
        }).then(function (digest) { manifest.push({ path: entry.path, size: entry.file.size, sha256: digest }); });
      });
    });
    chain.then(function () {
      say(msg("planning"));
      return postJson(form.getAttribute("data-plan-url"), { files: manifest });
    }).then(function (plan) {
      return uploadParts(plan, byPath);
    }).then(function () {
      say(msg("verifying"));
      return postJson(form.getAttribute("data-complete-url"));
    }).then(function (result) {
      setProgress(1);
      say(msg("done", { state: result.state_label }));
      var link = next.querySelector("a");
      if (result.next) link.setAttribute("href", result.next);
      next.hidden = false;
      link.focus();
    }).catch(function (error) {
      say(msg("failed", { message: error.message }), true);
    }).then(function () { button.disabled = false; });
  }
  form.addEventListener("submit", function (event) { event.preventDefault(); start(); });
})();
