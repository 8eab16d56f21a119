/*! aiosocketio client loader: gets the official Socket.IO browser client for this page.
 *
 * <script src="/socket.io/client.js"></script> then aiosocketio.ready.then((io) => io()).
 * The server filled in CONFIG: where the client comes from (its own copy, or the CDN with a
 * Subresource Integrity hash) and what to tell the user when it cannot be loaded.
 */
(function () {
  "use strict";
  var CONFIG = __AIOSOCKETIO_CONFIG__;
  var here = document.currentScript && document.currentScript.src;
  var state = (window.aiosocketio = window.aiosocketio || {});
  state.source = CONFIG.source;
  state.error = null;

  function show(message) {
    var box = document.getElementById("socketio-client-error");
    if (!box) {
      box = document.createElement("div");
      box.id = "socketio-client-error";
      box.setAttribute("role", "alert");
      // First in the page and sticky: it pushes the page down rather than hiding its top.
      box.style.cssText =
        "position:sticky;z-index:2147483647;top:0;margin:0;padding:12px 16px;" +
        "background:#b3261e;color:#fff;font:14px/1.4 system-ui,sans-serif;" +
        "box-shadow:0 2px 8px rgba(0,0,0,.3);white-space:pre-wrap";
      document.body.insertBefore(box, document.body.firstChild);
    }
    box.textContent = message;
  }

  state.ready = new Promise(function (resolve, reject) {
    function fail(message) {
      state.error = message;
      if (document.body) show(message);
      else document.addEventListener("DOMContentLoaded", function () { show(message); });
      if (window.console) console.error("aiosocketio: " + message);
      reject(new Error(message));
    }
    if (typeof window.io === "function") {
      state.source = "page"; // the page loaded a client itself
      resolve(window.io);
      return;
    }
    if (!CONFIG.src) {
      fail(CONFIG.message);
      return;
    }
    var tag = document.createElement("script");
    tag.src = here ? new URL(CONFIG.src, here).href : CONFIG.src;
    if (CONFIG.integrity) {
      tag.integrity = CONFIG.integrity;
      tag.crossOrigin = "anonymous";
    }
    tag.onload = function () {
      if (typeof window.io === "function") resolve(window.io);
      else fail(CONFIG.message);
    };
    tag.onerror = function () {
      fail(CONFIG.message);
    };
    (document.head || document.documentElement).appendChild(tag);
  });
  // The page may never ask; the message is shown either way.
  state.ready.catch(function () {});
})();
