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
  }

  const protocol = new truflux.Protocol().add('echo').add('chat');
  const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/truflux';
  const client = new truflux.Client({ url, protocol, reconnect: true });
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
  window.truflux_client = client;  // for tests and the console
  client.open();
})();
