// The page of `rag serve`: ask a knowledge base, watch the answer stream, open each cited
// passage with its document and page or slide, upload and remove documents.
// Everything comes from this server; text from documents and answers is always inserted as
// text (textContent, text nodes), never parsed as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { messages: [], controller: null, token: sessionStorage.getItem("rag-token") || "" };

class Unauthorized extends Error {}

function headers(extra) {
  const h = Object.assign({}, extra || {});
  if (state.token) h["Authorization"] = "Bearer " + state.token;
  return h;
}

async function api(path, options) {
  const opts = Object.assign({}, options || {});
  opts.headers = headers(opts.headers);
  const response = await fetch(path, opts);
  if (response.status === 401) {
    $("token-form").hidden = false;
    throw new Unauthorized("This server needs its API token.");
  }
  if (!response.ok) {
    let message = response.status + " " + response.statusText;
    try {
      const body = await response.json();
      if (body.error && body.error.message) message = body.error.message;
    } catch (_) { /* not JSON */ }
    throw new Error(message);
  }
  return response;
}

function samePath(url) {
  // Passage URLs are absolute; fetch them from this page's own server.
  const parsed = new URL(url, window.location.href);
  return parsed.pathname + parsed.search;
}

function currentKb() {
  return $("kb").value || "default";
}

function setStatus(id, text) {
  $(id).textContent = text || "";
}

// --- knowledge bases and documents ---------------------------------------------------------

async function loadModels(select) {
  const body = await (await api("/v1/models")).json();
  const picker = $("kb");
  const keep = select || picker.value;
  picker.replaceChildren();
  for (const model of body.data) {
    const option = document.createElement("option");
    option.value = model.id;
    option.textContent = model.indexed ? model.id : model.id + " (no documents yet)";
    picker.append(option);
  }
  if (keep && [...picker.options].some((o) => o.value === keep)) picker.value = keep;
}

async function loadDocuments() {
  const list = $("doc-list");
  list.replaceChildren();
  const kb = await (await api("/v1/knowledge_bases/" + encodeURIComponent(currentKb()))).json();
  $("upload-form").hidden = !kb.writable;
  for (const doc of kb.documents) {
    const item = document.createElement("li");
    item.textContent = doc.name;
    if (kb.writable) {
      const remove = document.createElement("button");
      remove.type = "button";
      remove.textContent = "Remove";
      remove.addEventListener("click", () => removeDocument(doc.name));
      item.append(remove);
    }
    list.append(item);
  }
  if (!kb.documents.length) {
    const item = document.createElement("li");
    item.textContent = kb.writable ? "No documents yet: upload some." : "No documents.";
    list.append(item);
  }
  return kb;
}

async function pollIndexing(name) {
  for (;;) {
    const kb = await (await api("/v1/knowledge_bases/" + encodeURIComponent(name))).json();
    const job = kb.indexing;
    if (job.state === "indexing" || job.state === "queued") {
      const part = job.total ? " " + job.done + "/" + job.total + " passages embedded" : "";
      setStatus("index-status", "Indexing…" + part);
      await new Promise((resolve) => setTimeout(resolve, 400));
      continue;
    }
    // The lists first, then the status: once it says "Indexed" the page shows the result.
    await loadModels(name);
    await loadDocuments();
    if (job.state === "failed") {
      setStatus("index-status", "Indexing failed: " + job.error);
    } else {
      const report = job.report || { documents: 0, chunks: 0, skipped: [] };
      let text = "Indexed: " + report.documents + " documents, " + report.chunks + " passages.";
      for (const skipped of report.skipped || []) {
        text += " Skipped " + skipped.file + ": " + skipped.reason + ".";
      }
      setStatus("index-status", text);
    }
    return job;
  }
}

function showUploadResult(body) {
  const list = $("upload-result");
  list.replaceChildren();
  for (const name of body.accepted || []) {
    const item = document.createElement("li");
    item.textContent = name + ": uploaded";
    list.append(item);
  }
  for (const bad of body.rejected || []) {
    const item = document.createElement("li");
    item.className = "rejected";
    item.textContent = bad.file + ": " + bad.reason;
    list.append(item);
  }
}

function upload(event) {
  event.preventDefault();
  const files = $("files").files;
  if (!files.length) return;
  const form = new FormData();
  for (const file of files) form.append("files", file, file.name);
  const name = currentKb();
  const bar = $("upload-progress");
  bar.hidden = false;
  bar.value = 0;
  const request = new XMLHttpRequest();
  request.open("POST", "/v1/knowledge_bases/" + encodeURIComponent(name) + "/documents");
  if (state.token) request.setRequestHeader("Authorization", "Bearer " + state.token);
  request.upload.addEventListener("progress", (e) => {
    if (e.lengthComputable) bar.value = Math.round((100 * e.loaded) / e.total);
  });
  request.addEventListener("load", () => {
    bar.value = 100;
    let body = {};
    try { body = JSON.parse(request.responseText); } catch (_) { /* not JSON */ }
    if (request.status === 401) $("token-form").hidden = false;
    showUploadResult(body);
    if (request.status === 202) {
      $("files").value = "";
      pollIndexing(name).catch(showError);
    } else if (body.error) {
      setStatus("index-status", body.error.message);
    }
  });
  request.addEventListener("error", () => setStatus("index-status", "Upload failed."));
  request.send(form);
}

async function removeDocument(doc) {
  const name = currentKb();
  const path = "/v1/knowledge_bases/" + encodeURIComponent(name) + "/documents/" +
    doc.split("/").map(encodeURIComponent).join("/");
  await api(path, { method: "DELETE" });
  await pollIndexing(name);
}

async function createKb(event) {
  event.preventDefault();
  const name = $("new-kb").value.trim();
  await api("/v1/knowledge_bases", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name: name }),
  });
  $("new-kb").value = "";
  await loadModels(name);
  newConversation();
  await loadDocuments();
}

// --- asking ----------------------------------------------------------------------------------

function newConversation() {
  if (state.controller) state.controller.abort();
  state.messages = [];
  $("conversation").replaceChildren();
  $("passage").hidden = true;
  setStatus("status", "");
}

function renderAnswer(element, text, citations) {
  // The checked answer with each [n] marker as a button that opens passage n.
  const byN = new Map(citations.map((c) => [c.n, c]));
  element.replaceChildren();
  let last = 0;
  for (const match of text.matchAll(/\[(\d+)\]/g)) {
    element.append(document.createTextNode(text.slice(last, match.index)));
    const citation = byN.get(Number(match[1]));
    if (citation) {
      element.append(citeButton(citation));
    } else {
      element.append(document.createTextNode(match[0]));
    }
    last = match.index + match[0].length;
  }
  element.append(document.createTextNode(text.slice(last)));
}

function citeButton(citation) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "cite";
  button.textContent = "[" + citation.n + "]";
  button.title = citation.title;
  button.addEventListener("click", () => {
    document.querySelectorAll("button.cite.open").forEach((b) => b.classList.remove("open"));
    button.classList.add("open");
    openPassage(citation).catch(showError);
  });
  return button;
}

function renderSources(list, citations) {
  list.replaceChildren();
  for (const citation of citations) {
    const item = document.createElement("li");
    item.append(citeButton(citation), document.createTextNode(" " + citation.title));
    list.append(item);
  }
}

async function openPassage(citation) {
  const passage = await (await api(samePath(citation.url))).json();
  $("passage-n").textContent = "[" + citation.n + "]";
  $("passage-source").textContent = passage.source;
  $("passage-where").textContent = passage.label || "";
  $("passage-before").textContent = (passage.start > passage.before.length ? "…" : "") + passage.before;
  $("passage-text").textContent = passage.text;
  const more = passage.end + passage.after.length < passage.document_chars ? "…" : "";
  $("passage-after").textContent = passage.after + more;
  $("passage").hidden = false;
  $("passage-text").scrollIntoView({ block: "nearest" });
}

function readEvents(buffer, onData) {
  // Complete SSE events in `buffer` go to onData; the incomplete rest is returned.
  let cut;
  while ((cut = buffer.indexOf("\n\n")) >= 0) {
    const event = buffer.slice(0, cut);
    buffer = buffer.slice(cut + 2);
    for (const line of event.split("\n")) {
      if (line.startsWith("data: ")) onData(line.slice(6));
    }
  }
  return buffer;
}

async function ask(event) {
  event.preventDefault();
  const question = $("question").value.trim();
  if (!question) return;
  const turn = document.createElement("div");
  turn.className = "turn";
  const asked = document.createElement("div");
  asked.className = "question";
  asked.textContent = question;
  const answer = document.createElement("div");
  answer.className = "answer";
  const sources = document.createElement("ol");
  sources.className = "sources";
  turn.append(asked, answer, sources);
  $("conversation").append(turn);
  $("question").value = "";

  const messages = state.messages.concat([{ role: "user", content: question }]);
  state.controller = new AbortController();
  $("ask").disabled = true;
  $("stop").hidden = false;
  setStatus("status", "Searching and answering…");
  let streamed = "";
  let final = null;
  try {
    const response = await api("/v1/chat/completions", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ model: currentKb(), messages: messages, stream: true }),
      signal: state.controller.signal,
    });
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    const onData = (data) => {
      if (data === "[DONE]") return;
      const chunk = JSON.parse(data);
      if (chunk.error) throw new Error(chunk.error.message);
      if (chunk.event && chunk.event.type === "status") setStatus("status", chunk.event.data.description);
      const choice = (chunk.choices || [])[0];
      if (choice && choice.delta && choice.delta.content && !chunk.citations) {
        streamed += choice.delta.content;
        answer.textContent = streamed;
      }
      if (chunk.citations) final = chunk;
    };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer = readEvents(buffer + decoder.decode(value, { stream: true }), onData);
    }
    if (!final) throw new Error("The answer ended early.");
    renderAnswer(answer, final.answer, final.citations);
    if (final.direct_answer) {
      // The few words that answer the question, above the answer they come from.
      const direct = document.createElement("div");
      direct.className = "direct";
      direct.textContent = final.direct_answer;
      answer.before(direct);
    }
    if (final.refused) answer.classList.add("refused");
    renderSources(sources, final.citations);
    state.messages = messages.concat([{ role: "assistant", content: final.answer }]);
    setStatus("status", "");
  } catch (error) {
    if (error.name === "AbortError") {
      setStatus("status", "Stopped.");
    } else {
      const problem = document.createElement("div");
      problem.className = "error";
      problem.textContent = error.message;
      turn.append(problem);
      setStatus("status", "");
    }
  } finally {
    state.controller = null;
    $("ask").disabled = false;
    $("stop").hidden = true;
  }
}

function showError(error) {
  setStatus("index-status", error.message);
}

async function start() {
  try {
    await loadModels();
    await loadDocuments();
    $("token-form").hidden = true;
  } catch (error) {
    if (!(error instanceof Unauthorized)) showError(error);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("ask-form").addEventListener("submit", ask);
  $("question").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $("ask-form").requestSubmit();
    }
  });
  $("stop").addEventListener("click", () => state.controller && state.controller.abort());
  $("new-chat").addEventListener("click", newConversation);
  $("kb").addEventListener("change", () => {
    newConversation();
    loadDocuments().catch(showError);
  });
  $("upload-form").addEventListener("submit", upload);
  $("create-form").addEventListener("submit", (e) => createKb(e).catch(showError));
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    state.token = $("token").value.trim();
    sessionStorage.setItem("rag-token", state.token);
    start();
  });
  start();
});
