// Onestop uploads: drop or choose files and folders; each goes up in checked pieces
// (tus 1.0 core + checksum, see wrappers/files/transfer.py) with its own progress bar.
// Each piece carries its CRC-32; the last one carries the SHA-256 of the whole file,
// computed here while the file is read (hash-wasm, loaded when first needed), which
// the portal compares with its own before the file gets its name. The next piece is
// read and hashed while the current one is on its way. A dropped connection or a
// restarted portal is retried; the server says how much it has and the upload
// carries on from there. Choosing the same file again after closing the page also
// carries on (its address is kept in localStorage; the part already sent is read
// and hashed again here, not sent again).
(function () {
  "use strict";

  var CONCURRENT = 2;
  var MAX_TRIES = 30;
  var STEP = 8 * 1024 * 1024; // hashed at once, between two looks at the page's events
  var queue = [];
  var running = 0;
  var hashing = null;

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function words(bytes) {
    var units = ["bytes", "KB", "MB", "GB", "TB"];
    var value = bytes;
    var unit = 0;
    while (value >= 1000 && unit < units.length - 1) { value /= 1000; unit += 1; }
    return unit === 0 ? bytes + " bytes" : value.toFixed(1) + " " + units[unit];
  }

  function b64(text) {
    return btoa(unescape(encodeURIComponent(text)));
  }

  function bufferB64(buffer) {
    var bytes = new Uint8Array(buffer);
    var text = "";
    for (var i = 0; i < bytes.length; i += 1) text += String.fromCharCode(bytes[i]);
    return btoa(text);
  }

  function sleep(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  // One request; resolves with the XMLHttpRequest whatever the status (0 = no answer).
  function request(method, url, headers, body, onProgress) {
    return new Promise(function (resolve) {
      var xhr = new XMLHttpRequest();
      xhr.open(method, url);
      headers["Tus-Resumable"] = "1.0.0";
      if (method !== "HEAD") headers["X-CSRF-Token"] = csrfToken();
      Object.keys(headers).forEach(function (key) { xhr.setRequestHeader(key, headers[key]); });
      if (onProgress) {
        xhr.upload.onprogress = function (event) { onProgress(event.loaded); };
      }
      xhr.onload = function () { resolve(xhr); };
      xhr.onerror = function () { resolve(xhr); };
      xhr.ontimeout = function () { resolve(xhr); };
      xhr.send(body);
    });
  }

  function row(list, name) {
    var item = document.createElement("li");
    var label = document.createElement("span");
    label.className = "upload-name";
    label.textContent = name;
    var bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    var status = document.createElement("span");
    status.className = "upload-status";
    status.textContent = "waiting";
    item.append(label, bar, status);
    item.setAttribute("data-state", "waiting");
    list.append(item);
    return {
      item: item,
      show: function (done, total, text) {
        bar.value = total ? Math.floor((done / total) * 100) : 100;
        status.textContent = text || words(done) + " of " + words(total);
      },
      finish: function (state, text) {
        item.setAttribute("data-state", state);
        if (state === "done") bar.value = 100;
        status.textContent = text;
      }
    };
  }

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = src;
      script.onload = resolve;
      script.onerror = reject;
      document.head.append(script);
    });
  }

  // hash-wasm's CRC-32 and SHA-256, or null where they cannot run (no WebAssembly):
  // the pieces then go up unchecked, as from any plain tus client.
  function hashLibrary() {
    if (!hashing) {
      hashing = Promise.all([
        loadScript("/vendor/hash-wasm-crc32.min.js"),
        loadScript("/vendor/hash-wasm-sha256.min.js")
      ]).then(function () {
        var lib = window.hashwasm;
        return lib && lib.createCRC32 && lib.createSHA256 && window.WebAssembly ? lib : null;
      }).catch(function () { return null; });
    }
    return hashing;
  }

  function breather() {
    return new Promise(function (resolve) { setTimeout(resolve, 0); });
  }

  // Reads pieces of one file: each with its CRC-32, and the file's SHA-256 fed in
  // order, once per byte, however often a piece is read again (a retry, a resume).
  function Reader(file, lib) {
    this.file = file;
    this.lib = lib;
    this.hashed = 0;
    this.whole = null;
    this.sha = null;
    this.crc = null;
    this.last = Promise.resolve();
  }

  // One read at a time (a read-ahead and a retry share the hashers), in call order.
  Reader.prototype.piece = function (start, end) {
    var self = this;
    var run = this.last.then(function () { return self.read(start, end); });
    this.last = run.catch(function () {});
    return run;
  };

  Reader.prototype.read = async function (start, end) {
    var lib = this.lib;
    if (lib && !this.sha) {
      this.sha = await lib.createSHA256();
      this.crc = await lib.createCRC32();
    }
    while (lib && this.hashed < start) { // carried on from another visit: catch up
      var upto = Math.min(start, this.hashed + STEP);
      var earlier = await this.file.slice(this.hashed, upto).arrayBuffer();
      this.sha.update(new Uint8Array(earlier));
      this.hashed = upto;
      await breather();
    }
    var data = new Uint8Array(await this.file.slice(start, end).arrayBuffer());
    if (!lib) return { data: data, crc: null };
    this.crc.init();
    for (var at = 0; at < data.length; at += STEP) {
      var part = data.subarray(at, Math.min(at + STEP, data.length));
      this.crc.update(part);
      var from = Math.max(start + at, this.hashed) - (start + at);
      if (from < part.length) {
        this.sha.update(from ? part.subarray(from) : part);
        this.hashed = start + at + part.length;
      }
      await breather();
    }
    if (end >= this.file.size && this.whole === null && this.hashed >= this.file.size) {
      this.whole = bufferB64(this.sha.digest("binary"));
    }
    return { data: data, crc: bufferB64(this.crc.digest("binary")) };
  };
  async function offsetOf(url) {
    var answer = await request("HEAD", url, {}, null);
    if (answer.status === 200) {
      return {
        offset: parseInt(answer.getResponseHeader("Upload-Offset"), 10),
        chunk: parseInt(answer.getResponseHeader("Onestop-Chunk-Size"), 10) || 0
      };
    }
    if (answer.status === 0 || answer.status >= 500) return null; // unreachable: ask again
    return { gone: true, message: answer.responseText };
  }

  async function upload(job) {
    var file = job.file;
    var key = "onestop-upload:" + job.folder + "|" + job.name + "|" + file.size + "|" + file.lastModified;
    var url = localStorage.getItem(key);
    var offset = 0;
    var chunk = 32 * 1024 * 1024; // the portal says its own (Onestop-Chunk-Size)
    var tries = 0;
    job.view.finish("working", "starting");
    var lib = await hashLibrary();
    if (url) {
      var known = await offsetOf(url);
      if (known && !known.gone) {
        offset = known.offset;
        chunk = known.chunk || chunk;
      } else {
        url = null;
        localStorage.removeItem(key);
      }
    }
    if (!url) {
      var metadata = [
        "filename " + b64(job.name),
        "folder " + b64(job.folder),
        "conflict " + b64(job.conflict)
      ];
      if (lib) metadata.push("checksum " + b64("sha256")); // the whole file's, at the end
      var created;
      for (;;) {
        created = await request("POST", "/files/uploads", {
          "Upload-Length": String(file.size),
          "Upload-Metadata": metadata.join(",")
        }, null);
        if (created.status !== 0 && created.status < 500) break;
        tries += 1;
        if (tries > MAX_TRIES) return job.view.finish("failed", "The portal cannot be reached.");
        job.view.finish("working", "waiting for the portal…");
        await sleep(Math.min(1000 * tries, 10000));
      }
      if (created.status !== 201) {
        return job.view.finish("failed", created.responseText || "Refused.");
      }
      url = created.getResponseHeader("Location");
      chunk = parseInt(created.getResponseHeader("Onestop-Chunk-Size"), 10) || chunk;
      var doneAt = created.getResponseHeader("Onestop-File");
      if (doneAt) return done(job, decodeURIComponent(doneAt));
      localStorage.setItem(key, url);
    }
    var reader = new Reader(file, lib);
    var stop = function (start) { return Math.min(start - (start % chunk) + chunk, file.size); };
    tries = 0;
    var mismatches = 0;
    var emptyTried = false;
    var next = null; // the piece read ahead: {start, promise}
    for (;;) {
      if (offset >= file.size) {
        // Everything arrived but the file was not named yet (the portal stopped just
        // then): an empty piece at the end asks it to finish.
        if (emptyTried) break;
        emptyTried = true;
      }
      var end = stop(offset);
      var piece = next && next.start === offset ? await next.promise : await reader.piece(offset, end);
      next = null;
      var headers = {
        "Content-Type": "application/offset+octet-stream",
        "Upload-Offset": String(offset)
      };
      if (piece.crc) headers["Upload-Checksum"] = "crc32 " + piece.crc;
      if (end >= file.size && reader.whole) headers["Repr-Digest"] = "sha-256=:" + reader.whole + ":";
      var base = offset;
      var sending = request("PATCH", url, headers, piece.data, function (loaded) {
        job.view.show(base + loaded, file.size);
      });
      if (end < file.size) next = { start: end, promise: reader.piece(end, stop(end)) };
      var sent = await sending;
      if (sent.status === 204) {
        offset = parseInt(sent.getResponseHeader("Upload-Offset"), 10);
        tries = 0;
        job.view.show(offset, file.size);
        var finalPath = sent.getResponseHeader("Onestop-File");
        if (finalPath) {
          localStorage.removeItem(key);
          return done(job, decodeURIComponent(finalPath));
        }
        continue;
      }
      if (sent.status === 460 && mismatches < 3) { mismatches += 1; continue; }
      if (sent.status === 422) {
        // The whole file differs from what was read here: the portal kept it aside,
        // unnamed. Nothing to resume; the words say what to do.
        localStorage.removeItem(key);
        return job.view.finish("failed", sent.responseText || "The file arrived damaged.");
      }
      var moved = sent.status === 409 && sent.getResponseHeader("Upload-Offset") !== null;
      if (sent.status === 0 || sent.status >= 500 || moved) {
        // No answer, a restarted portal or a cut connection: ask how much arrived.
        tries += 1;
        if (tries > MAX_TRIES) {
          return job.view.finish("failed", "Stopped: the portal cannot be reached. Choose the file again to carry on.");
        }
        job.view.show(offset, file.size, "connection lost, trying again…");
        await sleep(Math.min(500 * tries, 10000));
        var state = await offsetOf(url);
        if (state && state.gone) {
          localStorage.removeItem(key);
          return job.view.finish("failed", state.message || "The upload is gone.");
        }
        if (state) offset = state.offset;
        continue;
      }
      localStorage.removeItem(key);
      await request("DELETE", url, {}, null);
      return job.view.finish("failed", sent.responseText || "Refused.");
    }
    return job.view.finish("failed", "The upload did not finish.");
  }

  function done(job, path) {
    var name = path.split("/").pop();
    job.view.finish("done", name === job.name.split("/").pop() ? "done" : "done, saved as " + name);
    document.body.dispatchEvent(new CustomEvent("onestop:uploaded", { bubbles: true, detail: { path: path } }));
  }

  function pump() {
    while (running < CONCURRENT && queue.length) {
      var job = queue.shift();
      running += 1;
      upload(job).catch(function (error) {
        job.view.finish("failed", "Stopped: " + error);
      }).finally(function () {
        running -= 1;
        pump();
      });
    }
  }

  function add(zone, file, name) {
    var list = zone.querySelector("[data-upload-list]");
    var conflict = zone.querySelector("[data-upload-conflict]");
    queue.push({
      file: file,
      name: name,
      folder: zone.getAttribute("data-folder"),
      conflict: conflict ? conflict.value : "keep-both",
      view: row(list, name)
    });
    pump();
  }

  // Folders dropped from the desktop: walk them (readEntries answers in batches).
  function walk(entry, prefix, found) {
    return new Promise(function (resolve) {
      if (entry.isFile) {
        entry.file(function (file) { found.push([file, prefix + file.name]); resolve(); }, function () { resolve(); });
        return;
      }
      var reader = entry.createReader();
      var read = function () {
        reader.readEntries(function (entries) {
          if (!entries.length) { resolve(); return; }
          Promise.all(entries.map(function (inner) {
            return walk(inner, prefix + entry.name + "/", found);
          })).then(read);
        }, function () { resolve(); });
      };
      read();
    });
  }

  function setUp(zone) {
    if (zone.getAttribute("data-ready")) return;
    zone.setAttribute("data-ready", "1");
    zone.querySelectorAll("[data-upload-picker]").forEach(function (input) {
      input.addEventListener("change", function () {
        Array.prototype.forEach.call(input.files, function (file) {
          add(zone, file, file.webkitRelativePath || file.name);
        });
        input.value = "";
      });
    });
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        zone.classList.add("dragging");
      });
    });
    zone.addEventListener("dragleave", function () { zone.classList.remove("dragging"); });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      zone.classList.remove("dragging");
      var items = event.dataTransfer.items;
      var entries = [];
      if (items) {
        Array.prototype.forEach.call(items, function (item) {
          var entry = item.webkitGetAsEntry ? item.webkitGetAsEntry() : null;
          if (entry) entries.push(entry);
        });
      }
      if (!entries.length) {
        Array.prototype.forEach.call(event.dataTransfer.files, function (file) { add(zone, file, file.name); });
        return;
      }
      var found = [];
      Promise.all(entries.map(function (entry) { return walk(entry, "", found); })).then(function () {
        found.forEach(function (pair) { add(zone, pair[0], pair[1]); });
      });
    });
  }

  function scan() {
    var zone = document.getElementById("upload-zone");
    if (zone) setUp(zone);
  }

  document.addEventListener("DOMContentLoaded", scan);
  document.addEventListener("htmx:load", scan); // the zone may arrive in a swapped fragment
})();
