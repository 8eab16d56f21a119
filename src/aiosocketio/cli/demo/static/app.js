// aiosocketio chat demo: the browser side, on the official socket.io-client (loaded by the
// server's /socket.io/client.js).
//
// Query flags: ?nick=alice (skip the login form), ?room=random (initial room),
// ?transport=polling or ?transport=websocket (force one transport).
(() => {
  "use strict";

  const params = new URLSearchParams(location.search);
  const $ = (id) => document.getElementById(id);
  const NICK_KEY = "aiosocketio-chat-nickname";

  const state = {
    nickname: params.get("nick") || localStorage.getItem(NICK_KEY) || "",
    room: params.get("room") || "general",
    shown: null, // the room whose messages are on screen
    rooms: [],
    socket: null,
    localId: 0,
    typingSent: false,
    typingTimer: null,
    typers: new Map(), // nickname -> timeout handle
  };

  // A short log of what the page received (window.chatLog), for debugging.
  function trace(text) {
    const log = (window.chatLog = window.chatLog || []);
    const transport = state.socket && state.socket.io.engine ? state.socket.io.engine.transport.name : "-";
    log.push(`${new Date().toISOString()} [${transport}] ${text}`);
    if (log.length > 200) log.shift();
  }

  // ------------------------------------------------------------------ rendering

  function setState(name, text) {
    document.body.dataset.state = name;
    $("status-text").textContent = text;
  }

  function setTransport(name) {
    document.body.dataset.transport = name;
    $("transport").textContent = name;
  }

  function initials(nick) {
    return (nick || "?").trim().slice(0, 2).toUpperCase();
  }

  function colorFor(nick) {
    let h = 0;
    for (const ch of nick) h = (h * 31 + ch.charCodeAt(0)) % 360;
    return `hsl(${h} 60% 45%)`;
  }

  function time(ts) {
    return new Date(ts).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function scrollDown() {
    const list = $("messages");
    list.scrollTop = list.scrollHeight;
  }

  function addMessage(msg, mine) {
    const li = document.createElement("li");
    li.className = mine ? "msg mine" : "msg";
    li.dataset.from = msg.nickname;
    if (msg.id) li.dataset.id = msg.id;
    const bubble = document.createElement("div");
    bubble.className = "bubble";
    const from = document.createElement("div");
    from.className = "from";
    from.textContent = msg.nickname;
    from.style.color = colorFor(msg.nickname);
    const text = document.createElement("span");
    text.className = "text";
    text.textContent = msg.text;
    const meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = time(msg.ts || Date.now());
    bubble.append(from, text, meta);
    if (mine) {
      const receipt = document.createElement("span");
      receipt.className = "receipt";
      receipt.title = "sending…";
      receipt.textContent = "…";
      meta.append(receipt);
      li.dataset.status = "pending";
    }
    li.append(bubble);
    $("messages").append(li);
    scrollDown();
    return li;
  }

  function markReceipt(li, ok, ack) {
    const receipt = li.querySelector(".receipt");
    li.dataset.status = ok ? "delivered" : "failed";
    receipt.textContent = ok ? "✓" : "!";
    receipt.title = ok ? "delivered to the server" : "not acknowledged (will not be retried)";
    if (ok && ack && ack.id) li.dataset.id = ack.id;
  }

  function addNotice(text) {
    const li = document.createElement("li");
    li.className = "notice";
    li.textContent = text;
    $("messages").append(li);
    scrollDown();
  }

  function renderRooms() {
    const ul = $("rooms");
    ul.replaceChildren();
    let members = 0;
    for (const room of state.rooms) {
      const li = document.createElement("li");
      li.dataset.room = room.name;
      if (room.name === state.room) {
        li.className = "active";
        members = room.members;
      }
      const name = document.createElement("span");
      name.textContent = `# ${room.name}`;
      const count = document.createElement("span");
      count.className = "count";
      count.textContent = String(room.members);
      li.append(name, count);
      li.addEventListener("click", () => joinRoom(room.name));
      ul.append(li);
    }
    const select = $("room-select");
    select.replaceChildren(
      ...state.rooms.map((room) => new Option(`# ${room.name} (${room.members})`, room.name)),
    );
    select.value = state.room;
    $("room-title").textContent = `# ${state.room}`;
    $("room-members").textContent = `${members} online`;
    $("input").placeholder = `Message #${state.room}`;
  }

  function renderTyping() {
    const names = [...state.typers.keys()];
    let text = "";
    if (names.length === 1) text = `${names[0]} is typing…`;
    else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
    else if (names.length > 2) text = "several people are typing…";
    $("typing").textContent = text;
  }

  // ------------------------------------------------------------------ actions

  function joinRoom(name) {
    const socket = state.socket;
    if (!socket || !socket.connected) {
      state.room = name;
      renderRooms();
      return;
    }
    stopTyping();
    socket.timeout(5000).emit("join", name, (err, reply) => {
      trace(`join ack ${err ? err.message : JSON.stringify(reply)}`);
      if (err || !reply || reply.error) return addNotice(`could not join #${name}`);
      state.room = reply.room;
      state.typers.clear();
      renderTyping();
      if (state.shown === reply.room) {
        // Same room after a reconnection: keep what is on screen.
        addNotice(`reconnected to #${reply.room}`);
      } else {
        state.shown = reply.room;
        $("messages").replaceChildren();
        for (const msg of reply.history) {
          const mine = msg.nickname === state.nickname;
          const li = addMessage(msg, mine);
          if (mine) markReceipt(li, true, msg);
        }
        addNotice(`you joined #${reply.room}`);
      }
      renderRooms();
    });
  }

  function sendMessage(text) {
    const li = addMessage({ nickname: state.nickname, text, ts: Date.now() }, true);
    stopTyping();
    state.socket.timeout(5000).emit("message", { room: state.room, text }, (err, ack) => {
      markReceipt(li, !err && ack && !ack.error, ack);
    });
  }

  function stopTyping() {
    clearTimeout(state.typingTimer);
    if (state.typingSent && state.socket && state.socket.connected) {
      state.socket.emit("typing", false);
    }
    state.typingSent = false;
  }

  function onInput() {
    if (!state.socket || !state.socket.connected) return;
    if (!state.typingSent) {
      state.socket.emit("typing", true);
      state.typingSent = true;
    }
    clearTimeout(state.typingTimer);
    state.typingTimer = setTimeout(stopTyping, 1500);
  }

  // ------------------------------------------------------------------ connection

  function connect() {
    $("login").hidden = true;
    $("me").textContent = state.nickname;
    $("me-avatar").textContent = initials(state.nickname);
    $("me-avatar").style.background = colorFor(state.nickname);

    const options = {
      auth: { nickname: state.nickname },
      reconnectionDelay: 500,
      reconnectionDelayMax: 2000,
    };
    const forced = params.get("transport");
    if (forced === "polling" || forced === "websocket") options.transports = [forced];

    const socket = io(options);
    state.socket = socket;
    window.chatSocket = socket; // handy in the devtools console (and for tests)

    socket.on("connect", () => {
      setState("connected", "connected");
      setTransport(socket.io.engine.transport.name);
      socket.io.engine.once("upgrade", (transport) => setTransport(transport.name));
      joinRoom(state.room);
    });

    socket.on("disconnect", (reason) => {
      trace(`disconnect: ${reason}`);
      state.typers.clear();
      renderTyping();
      if (socket.active) {
        setState("reconnecting", "reconnecting…");
      } else if (reason === "io server disconnect" && state.socket === socket) {
        // The server said goodbye (it shuts down when it restarts): the client does not
        // reconnect by itself after that, so come back once it is up again.
        setState("reconnecting", "server closed the connection; reconnecting…");
        setTimeout(() => {
          if (state.socket === socket && !socket.connected) socket.connect();
        }, 500);
      } else {
        setState("disconnected", `disconnected (${reason})`);
      }
    });

    socket.io.on("reconnect_attempt", (attempt) => {
      setState("reconnecting", `reconnecting… (attempt ${attempt})`);
    });

    socket.on("connect_error", (err) => {
      if (!socket.active) {
        // Refused by the server's middleware (a bad nickname): back to the login form.
        localStorage.removeItem(NICK_KEY);
        showLogin(err.message);
      }
    });

    socket.onAny((event, ...args) => trace(`<- ${event} ${JSON.stringify(args)}`));

    socket.on("rooms", (rooms) => {
      state.rooms = rooms;
      renderRooms();
    });

    socket.on("message", (msg) => {
      if (msg.room !== state.room) return;
      const who = msg.nickname;
      clearTimeout(state.typers.get(who));
      state.typers.delete(who);
      renderTyping();
      addMessage(msg, false);
    });

    socket.on("notice", (notice) => {
      if (notice.room === state.room) addNotice(notice.text);
    });

    socket.on("typing", ({ nickname, typing }) => {
      clearTimeout(state.typers.get(nickname));
      if (typing) {
        // Forget a typist who went quiet without saying so.
        state.typers.set(nickname, setTimeout(() => {
          state.typers.delete(nickname);
          renderTyping();
        }, 5000));
      } else {
        state.typers.delete(nickname);
      }
      renderTyping();
    });
  }

  function showLogin(error) {
    if (state.socket) {
      state.socket.close();
      state.socket = null;
    }
    setState("disconnected", "signed out");
    $("login").hidden = false;
    $("login-error").textContent = error || "";
    $("nickname").value = state.nickname;
    $("nickname").focus();
  }

  // ------------------------------------------------------------------ wiring

  $("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const nick = $("nickname").value.trim();
    if (!nick) return;
    state.nickname = nick;
    localStorage.setItem(NICK_KEY, nick);
    connect();
  });

  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("input").value.trim();
    if (!text || !state.socket) return;
    $("input").value = "";
    sendMessage(text);
  });

  $("input").addEventListener("input", onInput);
  $("room-select").addEventListener("change", (event) => joinRoom(event.target.value));

  $("new-room").addEventListener("submit", (event) => {
    event.preventDefault();
    const name = $("new-room-name").value.trim().toLowerCase().replace(/[^a-z0-9_-]+/g, "-");
    $("new-room-name").value = "";
    if (name) joinRoom(name);
  });

  renderRooms();
  // /socket.io/client.js (the server's loader) resolves aiosocketio.ready with `io`; when the
  // client cannot be had, it shows why in a banner and the status says so.
  window.aiosocketio.ready.then(
    () => {
      if (state.nickname) connect();
      else showLogin("");
    },
    () => setState("error", "no Socket.IO browser client"),
  );
})();
