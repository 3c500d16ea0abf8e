// Injected by pvp-bridge into every frame before any page script runs.
// Tracks every RTCPeerConnection the page creates and reports, through the DevTools
// binding __PVP_BINDING__, its connection state, remote tracks and getUserMedia results.
// The bridge polls window.__pvpSession.stats() for a compact getStats() summary.
(() => {
  "use strict";
  const BINDING = "__PVP_BINDING__";
  if (window.__pvpSession || typeof window.RTCPeerConnection !== "function") return;
  const binding = window[BINDING];
  try { delete window[BINDING]; } catch (e) { /* keep going */ }
  const send = (msg) => {
    try { if (binding) binding(JSON.stringify(msg)); } catch (e) { /* never break the page */ }
  };
  const frame = Math.random().toString(36).slice(2, 8);
  const pcs = new Map();
  let next = 1;

  // "closed" only when every transport the connection uses now is closed: with BUNDLE,
  // the transports of the other m-lines close right after negotiation.
  const dtlsState = (pc) => {
    let state = null;
    try {
      for (const s of pc.getSenders().concat(pc.getReceivers())) {
        if (!s.transport) continue;
        if (s.transport.state !== "closed") return s.transport.state;
        state = "closed";
      }
    } catch (e) { /* closed */ }
    return state;
  };

  // The far end closing its side (DTLS close_notify) shows here at once, while the
  // connection state stays "connected" until ICE consent runs out (~7 s later).
  const watched = new WeakSet();
  const watchTransports = (id, pc) => {
    try {
      for (const s of pc.getSenders().concat(pc.getReceivers())) {
        const tr = s.transport;
        if (tr && !watched.has(tr)) {
          watched.add(tr);
          tr.addEventListener("statechange", () => send({ t: "dtls", pc: id, state: dtlsState(pc) }));
        }
      }
    } catch (e) { /* closed */ }
  };

  const watchTrack = (id, track) => {
    const report = (ev) => send({ t: "track", pc: id, kind: track.kind, track: track.id, ev,
      muted: track.muted, live: track.readyState === "live" });
    report("added");
    track.addEventListener("unmute", () => report("unmute"));
    track.addEventListener("mute", () => report("mute"));
    track.addEventListener("ended", () => report("ended"));
  };

  const Native = window.RTCPeerConnection;
  class TrackedPeerConnection extends Native {
    constructor(...args) {
      super(...args);
      const id = frame + ":" + next++;
      pcs.set(id, this);
      Object.defineProperty(this, "__pvpId", { value: id });
      send({ t: "pc", pc: id, state: this.connectionState });
      this.addEventListener("connectionstatechange", () => {
        send({ t: "state", pc: id, state: this.connectionState, dtls: dtlsState(this) });
        watchTransports(id, this);
      });
      this.addEventListener("track", (ev) => watchTrack(id, ev.track));
    }
    close() {
      const wasOpen = this.connectionState !== "closed";
      const result = super.close();
      pcs.delete(this.__pvpId);
      if (wasOpen) send({ t: "closed", pc: this.__pvpId });
      return result;
    }
  }
  // Libraries that look at the constructor's name (adapter.js shims) see the usual one.
  Object.defineProperty(TrackedPeerConnection, "name", { value: "RTCPeerConnection" });
  window.RTCPeerConnection = TrackedPeerConnection;
  if (window.webkitRTCPeerConnection) window.webkitRTCPeerConnection = TrackedPeerConnection;

  const media = navigator.mediaDevices;
  if (media && typeof media.getUserMedia === "function") {
    const getUserMedia = media.getUserMedia.bind(media);
    media.getUserMedia = (constraints) => getUserMedia(constraints).then(
      (stream) => {
        send({ t: "gum", ok: true, audio: stream.getAudioTracks().length,
          video: stream.getVideoTracks().length });
        return stream;
      },
      (error) => {
        send({ t: "gum", ok: false, error: (error && error.name) || "Error" });
        throw error;
      });
  }

  const summarize = async (id, pc) => {
    const out = { pc: id, state: pc.connectionState, ts: Date.now(), pair: null,
      inbound: [], remote: [], sent: 0 };
    if (pc.connectionState === "closed") return out;
    let report;
    try { report = await pc.getStats(); } catch (e) { return out; }
    let selected = null;
    report.forEach((r) => {
      if (r.type === "transport" && r.selectedCandidatePairId) selected = r.selectedCandidatePairId;
    });
    report.forEach((r) => {
      if (r.type === "candidate-pair") {
        if (r.id === selected || (!selected && r.nominated && r.state === "succeeded")) {
          out.pair = { rtt: r.currentRoundTripTime, out: r.availableOutgoingBitrate,
            recv: r.bytesReceived, sent: r.bytesSent };
        }
      } else if (r.type === "inbound-rtp") {
        out.inbound.push({ ssrc: r.ssrc, kind: r.kind, lost: r.packetsLost,
          recv: r.packetsReceived, jitter: r.jitter, fps: r.framesPerSecond,
          decoded: r.framesDecoded, bytes: r.bytesReceived, w: r.frameWidth, h: r.frameHeight,
          freezes: r.freezeCount, ts: r.timestamp });
      } else if (r.type === "remote-inbound-rtp") {
        out.remote.push({ kind: r.kind, rtt: r.roundTripTime, fl: r.fractionLost });
      } else if (r.type === "outbound-rtp") {
        out.sent += r.bytesSent || 0;
      }
    });
    return out;
  };

  Object.defineProperty(window, "__pvpSession", {
    value: Object.freeze({
      stats: () => Promise.all(Array.from(pcs, ([id, pc]) => summarize(id, pc))),
      count: () => pcs.size,
    }),
  });
})();
