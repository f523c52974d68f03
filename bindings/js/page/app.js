// The chat page of `truflux serve --web`, on the browser client (window.truflux). The
// server's protocol is {echo, chat}: chat is relayed to every other client, so what we send
// is shown here at once and what others send arrives through onMessage.
(function () {
  const $ = (id) => document.getElementById(id);
  const log = $('log'), text = $('text'), name = $('name'), send = $('send'), status = $('status');
  name.value = localStorage.getItem('truflux-name') || 'guest' + Math.floor(Math.random() * 1000);

  function show(who, what, cls) {
    const li = document.createElement('li');
    li.className = cls || '';
    li.textContent = who ? who + ': ' + what : what;
    log.appendChild(li);
    log.scrollTop = log.scrollHeight;
    return li;
  }

  const protocol = new truflux.Protocol().add('echo').add('chat');
  const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/truflux';
  // With the server's secure-layer options (/security.js) the client encrypts, pinning the
  // server's key when it has one. It throws where WebCrypto is missing (plain http:// to a
  // host other than localhost is not a secure context) and encryption is required.
  let client;
  try {
    client = new truflux.Client({ url, protocol, reconnect: true, ...window.truflux_security });
  } catch (e) {
    status.textContent = e.message;
    return;
  }
  client.onSecure = (info) => show('', 'encrypted: Noise ' + info.pattern + ', ' + info.cipher, 'sys');
  client.onOpen = () => {
    status.textContent = 'connected';
    text.disabled = send.disabled = false;
    text.focus();
    show('', 'connected to ' + url, 'sys');
  };
  client.onClose = (code) => {
    status.textContent = 'disconnected (' + truflux.errname(code) + '), reconnecting…';
    text.disabled = send.disabled = true;
  };
  client.onErr = (err) => show('', String(err.message), 'sys');
  client.onMessage = (msgName, data) => {
    if (msgName !== 'chat') return;
    // Other pages send {name, text}; other clients (the CLI) may send plain text.
    if (data && typeof data === 'object' && 'text' in data) show(String(data.name), String(data.text));
    else show('someone', typeof data === 'string' ? data : JSON.stringify(data));
  };

  $('form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const t = text.value.trim();
    if (!t || !client.isOpen) return;
    localStorage.setItem('truflux-name', name.value);
    try {
      client.send('chat', { name: name.value, text: t });
      show(name.value, t, 'me');
      text.value = '';
    } catch (e) {
      show('', e.message, 'sys');
    }
  });
  // Files dropped or chosen go to the server, which stores them when it runs with
  // --accept-files DIR (else sendFile throws ENOTSUP). The line of each file tells how it went.
  function sendFiles(files) {
    for (const file of files) {
      const li = show('', 'sending ' + file.name + '…', 'sys');
      const end = (what) => (li.textContent = file.name + ': ' + what);
      try {
        const t = client.sendFile(file);
        t.onFinish = () => end('sent (' + file.size + ' bytes)');
        t.onDecline = () => end('declined by the server');
        t.onCancel = () => end('canceled by the server');
        t.onError = (e) => end(e.message);
      } catch (e) {
        end(e.code === 'ENOTSUP' ? 'this server takes no files (truflux serve --accept-files DIR)' : e.message);
      }
    }
  }
  const drop = $('drop'), file = $('file');
  file.addEventListener('change', () => {
    sendFiles(file.files);
    file.value = '';
  });
  drop.addEventListener('dragover', (ev) => {
    ev.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (ev) => {
    ev.preventDefault();
    drop.classList.remove('over');
    sendFiles(ev.dataTransfer.files);
  });

  window.truflux_client = client;  // for tests and the console
  client.open();
})();
