// The analysts' page. Served as a file (the CSP allows no inline script); talks only to this server.
// Signed in, the browser holds an HttpOnly session cookie: every request, link and download carries it.
"use strict";
const KINDS = {inspection: "巡察", audit: "审计", congress: "人大", discipline: "纪委监委", finance: "财会监督", statistics: "统计", legal: "政法", other: "其他"};
const ACTIONS = {rename: "重命名", merge: "合并", split: "拆分", move: "移动", remove: "移出"};
const STATUS_ZH = {400: "请求无效", 401: "需要登录", 403: "无权进行此操作", 404: "没有找到", 409: "与现有数据冲突", 413: "上传内容过大",
  415: "不支持的文件类型", 422: "请求参数无效", 429: "请求过于频繁", 500: "服务器内部错误", 502: "服务器无响应", 503: "工作区正忙，请稍后重试"};
const esc = s => String(s ?? "").replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
const $ = id => document.getElementById(id);
const LOADING = '<p class="muted loading">加载中……</p>';
const state = {me: null, docs: {}, clusters: [], open: new Set()};

for (const sel of ["up-kind", "f-kind"]) {
  for (const [k, v] of Object.entries(KINDS)) $(sel).insertAdjacentHTML("beforeend", `<option value="${esc(k)}">${esc(v)}</option>`);
}

// ------------------------------------------------------------------ errors, in Chinese
const hasHan = s => /[\u4e00-\u9fff]/.test(s);
function zh(message, status, fallback) {
  // Server messages are "中文 / English" (or the other way round): the page shows the Chinese part.
  const text = typeof message === "string" ? message : "";
  const part = text.split(" / ").find(hasHan);
  if (part) return part.trim();
  if (fallback !== undefined) return fallback;
  return STATUS_ZH[status] || (status ? `请求失败（${status}）` : "网络连接失败，请检查服务器是否在运行");
}
async function fail(r) {
  const body = await r.json().catch(() => ({}));
  if (r.status === 401 && state.me && state.me.multi_user) { showSignIn("会话已过期或无效，请重新登录"); }
  const err = new Error(zh(body.error, r.status));
  err.status = r.status;
  return err;
}
async function api(path, opts = {}) {
  let r;
  try { r = await fetch(path, Object.assign({credentials: "same-origin"}, opts)); }
  catch { throw new Error(zh(null, 0)); }
  if (!r.ok) throw await fail(r);
  return r.json();
}
const post = (path, body, method = "POST") => api(path, {method, headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
const failed = err => `<p class="failed">${esc(err.message)}</p>`;

// ------------------------------------------------------------------ sign-in
function showSignIn(message) {
  $("app").hidden = true; $("who").hidden = true; $("signin").hidden = false;
  $("signin-status").textContent = message || "";
  $("token").focus();
}
async function start() {
  try { state.me = await api("/session"); }
  catch (err) { document.body.insertAdjacentHTML("beforeend", failed(err)); return; }
  if (!state.me.signed_in) { showSignIn(); return; }
  $("signin").hidden = true; $("app").hidden = false; $("who").hidden = false;
  $("who-name").textContent = state.me.multi_user ? `用户：${state.me.user}${state.me.can_write ? "" : "（只读）"}` : "单用户模式";
  $("logout").hidden = !state.me.multi_user;
  document.body.classList.toggle("read-only", !state.me.can_write);
  loadAll();
}
$("signin-form").onsubmit = async e => {
  e.preventDefault();
  $("signin-status").textContent = "正在登录……";
  try {
    await post("/session", {token: $("token").value.trim()});
    $("token").value = "";
    await start();
  } catch (err) { $("signin-status").innerHTML = failed(err); }
};
$("logout").onclick = async () => {
  await api("/session", {method: "DELETE"}).catch(() => null);
  state.me = {signed_in: false, multi_user: true};
  ["results", "clusters", "review", "documents", "edits", "status"].forEach(id => { $(id).innerHTML = ""; });
  showSignIn("已退出登录");
};

// ------------------------------------------------------------------ finding rows and citations
function cite(f) {
  const d = state.docs[f.doc_id];
  const name = d && d.title ? d.title : f.document;
  return `<a class="link cite" data-source="${esc(f.id)}" title="查看原文">${esc(name)} 第${esc(f.page)}页</a>`;
}
function findingRows(hits, withScore) {
  if (!hits.length) return '<p class="muted">没有找到。</p>';
  return `<table><tr>${withScore ? "<th>相关度</th>" : ""}<th>问题表述</th><th>发现机关</th><th>单位</th><th>年份</th><th>出处</th></tr>` +
    hits.map(h => `<tr>${withScore ? `<td>${esc(h.score)}</td>` : ""}<td><a class="plain" data-source="${esc(h.id)}">${esc(h.text)}</a></td>` +
      `<td><span class="tag">${esc(KINDS[h.issuer_kind] || h.issuer_kind)}</span>${esc(h.issuer)}</td>` +
      `<td>${esc(h.unit)}</td><td>${esc(h.year)}</td><td>${cite(h)}<br><a class="link small-link" data-similar="${esc(h.id)}">查相似</a></td></tr>`).join("") + "</table>";
}
document.addEventListener("click", e => {
  const src = e.target.closest("[data-source]");
  if (src) { e.preventDefault(); openSource(src.dataset.source); return; }
  const sim = e.target.closest("a[data-similar]");
  if (sim) similar(sim.dataset.similar);
});

// ------------------------------------------------------------------ source viewer
async function openSource(id) {
  const dlg = $("viewer"), body = $("viewer-body");
  $("viewer-title").textContent = "原文";
  body.innerHTML = LOADING;
  if (!dlg.open) dlg.showModal();
  try {
    const s = await api(`/findings/${encodeURIComponent(id)}/source`);
    const d = s.document;
    $("viewer-title").textContent = d.title || d.name;
    const meta = [["文件", d.name], ["文号", d.doc_number], ["发文机关", d.issuer], ["监督类别", KINDS[d.issuer_kind] || d.issuer_kind],
      ["年份", d.year], ["被监督单位", (d.units || []).join("、")], ["页码", `第${s.page}页 / 共${d.pages}页`]];
    body.innerHTML = `<table class="meta">${meta.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v) || '<span class="muted">—</span>'}</td></tr>`).join("")}</table>` +
      `<p class="finding-text"><b>问题表述：</b>${esc(s.finding.text)}</p>` +
      (s.download ? `<p><a class="link" id="viewer-download" href="${esc(s.download)}" download>下载原文件</a></p>` : '<p class="muted">原文件未保存在服务器上。</p>') +
      (s.page_image ? `<div class="page-image"><p class="muted loading" id="page-loading">正在渲染第${esc(s.page)}页……</p><img id="page-img" alt="第${esc(s.page)}页（问题表述以黄色标出）"></div>` : "") +
      `<div class="context"><h4>上下文</h4><p>${esc(s.context.before)}<mark>${esc(s.context.match)}</mark>${esc(s.context.after)}</p></div>`;
    if (s.page_image) {
      const img = $("page-img");
      img.onload = () => $("page-loading").remove();
      img.onerror = () => { $("page-loading").textContent = "无法显示该页"; };
      img.src = s.page_image;
    }
  } catch (err) { body.innerHTML = failed(err); }
}
$("viewer-close").onclick = () => $("viewer").close();

// ------------------------------------------------------------------ upload with progress
$("upload-form").onsubmit = async e => {
  e.preventDefault();
  const files = $("files").files;
  const st = $("status");
  if (!files.length) { st.innerHTML = '<p class="failed">请先选择文件</p>'; return; }
  const fd = new FormData();
  for (const f of files) fd.append("files", f);
  const meta = {};
  const kind = $("up-kind").value, year = $("up-year").value.trim();
  if (kind) meta.issuer_kind = kind;
  if (year) meta.year = /^\d{4}$/.test(year) ? parseInt(year, 10) : year;  // the server explains a bad year
  if (Object.keys(meta).length) fd.append("metadata", JSON.stringify(meta));
  fd.append("label", $("up-label").value);
  const button = $("upload-button");
  button.disabled = true;
  st.innerHTML = `<p class="loading">正在上传 ${files.length} 个文件……</p>`;
  try {
    let job = await api("/batches?background=true", {method: "POST", body: fd});
    while (job.phase !== "done" && job.phase !== "failed") {
      showJob(job);
      await new Promise(r => setTimeout(r, 500));
      job = await api(`/batches/-/jobs/${encodeURIComponent(job.job)}`);
    }
    showJob(job);
    if (job.phase === "failed") throw new Error(zh(job.error, 500));
    loadAll();
  } catch (err) { st.insertAdjacentHTML("beforeend", `<p class="failed">上传失败：${esc(err.message)}</p>`); }
  finally { button.disabled = false; }
};
function showJob(job) {
  const st = $("status");
  const b = job.batch;
  const files = b ? b.files.map(f => ({name: f.name, state: f.status, text: ({ok: "成功", duplicate: "重复（已跳过）", failed: "失败"})[f.status] +
    (f.findings ? `，${f.findings} 条问题` : "") + (zh(f.message, 0, "") ? `（${zh(f.message, 0, "")}）` : "")}))
    : job.files.map(f => ({name: f.name, state: f.state, text: f.state_zh}));
  st.innerHTML = `<p class="${job.phase === "done" ? "ok" : job.phase === "failed" ? "failed" : "loading"}" id="job-phase">${esc(job.phase_zh)}` +
    `（已解析 ${esc(job.read)}/${esc(job.total)} 个文件，${esc(job.elapsed_s)} 秒）</p>` +
    `<progress max="${esc(2 * job.total + 2)}" value="${esc(job.read + job.done + (job.phase === "clustering" ? 1 : 0) + (job.phase === "done" ? 2 : 0))}"></progress>` +
    (b ? `<p>批次 ${esc(b.id)}：成功 ${esc(b.counts.ok)}，重复 ${esc(b.counts.duplicate)}，失败 ${esc(b.counts.failed)}</p>` : "") +
    `<ul class="files">${files.map(f => `<li class="${esc(f.state)}" data-file="${esc(f.name)}">${esc(f.name)}：${esc(f.text)}</li>`).join("")}</ul>`;
}

// ------------------------------------------------------------------ search
$("search-form").onsubmit = async e => {
  e.preventDefault();
  const q = $("q").value.trim();
  const box = $("results");
  if (!q) { box.innerHTML = '<p class="muted">请输入要检索的问题。</p>'; return; }
  const p = new URLSearchParams({q, k: 20});
  addFilters(p, false);
  box.innerHTML = LOADING;
  try { const r = await api("/search?" + p); box.innerHTML = findingRows(r.hits, true); }
  catch (err) { box.innerHTML = failed(err); }
};
async function similar(id) {
  const box = $("results");
  box.innerHTML = LOADING;
  try {
    const r = await api(`/findings/${encodeURIComponent(id)}/similar?k=15`);
    box.innerHTML = `<p>与「${esc(r.finding.text)}」相似的问题（${cite(r.finding)}）：</p>` + findingRows(r.hits, true);
    box.scrollIntoView();
  } catch (err) { box.innerHTML = failed(err); }
}

// ------------------------------------------------------------------ common problems: filters, expand, edit
function addFilters(p, withBatch = true) {
  const kind = $("f-kind").value, year = $("f-year").value.trim(), unit = $("f-unit").value.trim(), batch = $("f-batch").value;
  if (kind) p.append("issuer_kind", kind);
  if (year) p.append("year", year);
  if (unit) p.append("unit", unit);
  if (batch && withBatch) p.append("batch", batch);
  return p;
}
function exportLinks() {
  document.querySelectorAll("a[data-fmt]").forEach(a => {
    const p = addFilters(new URLSearchParams({format: a.dataset.fmt, min_bodies: $("min-bodies").value}));
    a.href = "/exports?" + p;  // a plain link: the session cookie goes along
  });
}
$("filters").onsubmit = e => { e.preventDefault(); loadClusters(); };
$("filters").onchange = exportLinks;
$("filters").oninput = exportLinks;
async function loadClusters() {
  const box = $("clusters");
  exportLinks();
  box.innerHTML = LOADING;
  const p = addFilters(new URLSearchParams({min_bodies: $("min-bodies").value}));
  try {
    const cs = await api("/clusters?" + p);
    state.clusters = cs;
    if (!cs.length) { box.innerHTML = '<p class="muted">暂无共性问题。</p>'; return; }
    box.innerHTML = cs.map((c, i) => clusterCard(c, i)).join("");
  } catch (err) { box.innerHTML = failed(err); }
}
function clusterCard(c, i) {
  const open = state.open.has(c.id);
  const shown = open ? c.findings : c.findings.slice(0, 3);
  const others = state.clusters.filter(o => o.id !== c.id);
  return `<div class="cluster" data-cluster="${esc(c.id)}">
    <div class="cluster-head"><label class="writer pick"><input type="checkbox" data-pick="${esc(c.id)}"> 选中</label>
      <span class="rank">${i + 1}</span> <b class="label">${esc(c.label)}</b> <span class="muted">${esc(c.span)}</span>
      <button type="button" class="secondary small writer" data-rename="${esc(c.id)}">重命名</button></div>
    <div class="rename-box" hidden><input type="text" size="30" maxlength="200" value="${esc(c.label)}"> <button type="button" class="small" data-rename-save="${esc(c.id)}">保存</button></div>
    <div class="muted">${esc((c.keywords || []).slice(0, 6).join("、"))}${c.note ? " · 备注：" + esc(c.note) : ""}</div>
    <ul class="findings">${shown.map(f => `<li><label class="writer"><input type="checkbox" data-finding="${esc(f.id)}"></label>
      <a class="plain" data-source="${esc(f.id)}">${esc(f.text)}</a> <span class="cite">（${cite(f)}）</span>
      <button type="button" class="secondary tiny writer" data-remove="${esc(f.id)}">移出</button></li>`).join("")}</ul>
    ${c.findings.length > 3 ? `<a class="link" data-expand="${esc(c.id)}">${open ? "收起" : `展开全部 ${c.findings.length} 条`}</a>` : ""}
    <div class="writer cluster-tools">
      <button type="button" class="secondary small" data-split="${esc(c.id)}">把所选表述拆分为新问题</button>
      <select data-move-target="${esc(c.id)}"><option value="">移至……</option>${others.map(o => `<option value="${esc(o.id)}">${esc(o.label.slice(0, 30))}</option>`).join("")}</select>
      <button type="button" class="secondary small" data-move="${esc(c.id)}">移动所选表述</button>
    </div></div>`;
}
async function edit(path, body, done) {
  const st = $("edit-status");
  st.innerHTML = '<p class="loading">正在保存……</p>';
  try {
    await post(path, body);
    st.innerHTML = `<p class="ok">${esc(done)}</p>`;
    await loadClusters();
    loadEdits();
  } catch (err) { st.innerHTML = `<p class="failed">修改失败：${esc(err.message)}</p>`; }
}
const picked = (card, attr) => [...card.querySelectorAll(`input[${attr}]:checked`)].map(x => x.getAttribute(attr));
$("clusters").addEventListener("click", e => {
  const t = e.target.closest("[data-expand],[data-rename],[data-rename-save],[data-remove],[data-split],[data-move]");
  if (!t) return;
  const card = t.closest(".cluster"), id = card.dataset.cluster;
  const c = state.clusters.find(x => x.id === id);
  if (t.dataset.expand) {
    state.open.has(id) ? state.open.delete(id) : state.open.add(id);
    card.outerHTML = clusterCard(c, state.clusters.indexOf(c));
  } else if (t.dataset.rename) {
    const box = card.querySelector(".rename-box");
    box.hidden = !box.hidden;
    if (!box.hidden) box.querySelector("input").focus();
  } else if (t.dataset.renameSave) {
    const label = card.querySelector(".rename-box input").value.trim();
    if (label) edit(`/clusters/${encodeURIComponent(id)}/rename`, {label}, `已重命名为「${label}」`);
  } else if (t.dataset.remove) {
    edit(`/clusters/remove/${encodeURIComponent(t.dataset.remove)}`, {}, "已把该表述移出共性问题");
  } else if (t.dataset.split) {
    const ids = picked(card, "data-finding");
    if (!ids.length) { $("edit-status").innerHTML = '<p class="failed">请先勾选要拆分的问题表述</p>'; return; }
    edit(`/clusters/${encodeURIComponent(id)}/split`, {finding_ids: ids}, `已把 ${ids.length} 条表述拆分为新的共性问题`);
  } else if (t.dataset.move) {
    const ids = picked(card, "data-finding"), target = card.querySelector("select[data-move-target]").value;
    if (!ids.length || !target) { $("edit-status").innerHTML = '<p class="failed">请勾选问题表述并选择要移至的共性问题</p>'; return; }
    moveAll(ids, target);
  }
});
async function moveAll(ids, target) {
  for (const [i, fid] of ids.entries()) {
    await edit("/clusters/move", {finding_id: fid, target}, `已移动 ${i + 1} 条表述`);
  }
}
$("merge-selected").onclick = () => {
  const ids = [...document.querySelectorAll("input[data-pick]:checked")].map(x => x.dataset.pick);
  if (ids.length < 2) { $("edit-status").innerHTML = '<p class="failed">请至少勾选两个共性问题</p>'; return; }
  edit(`/clusters/${encodeURIComponent(ids[0])}/merge`, {others: ids.slice(1)}, `已把 ${ids.length - 1} 个共性问题并入第一个`);
};
async function loadEdits() {
  const box = $("edits");
  box.innerHTML = LOADING;
  try {
    const es = await api("/clusters/-/edits");
    box.innerHTML = es.length ? "<table><tr><th>时间</th><th>操作</th><th>内容</th></tr>" + es.slice(-30).reverse().map(e =>
      `<tr><td>${esc(new Date(e.at * 1000).toLocaleString("zh-CN"))}</td><td>${esc(ACTIONS[e.action] || e.action)}</td>` +
      `<td>${esc(e.label || (e.findings || []).join("、") || e.finding || (e.others || []).join("、") || "")}</td></tr>`).join("") + "</table>"
      : '<p class="muted">还没有编辑。</p>';
  } catch (err) { box.innerHTML = failed(err); }
}

// ------------------------------------------------------------------ documents, batches, review
async function loadDocuments() {
  const box = $("documents");
  box.innerHTML = LOADING;
  try {
    const ds = await api("/documents");
    state.docs = Object.fromEntries(ds.map(d => [d.id, d]));
    box.innerHTML = ds.length ? "<table><tr><th>文件</th><th>标题</th><th>文号</th><th>类别</th><th>发文机关</th><th>年份</th><th>问题数</th></tr>" + ds.map(d =>
      `<tr><td><a class="link" href="/documents/${encodeURIComponent(d.id)}/file" download>${esc(d.name)}</a></td><td>${esc(d.title)}</td><td>${esc(d.doc_number)}</td>` +
      `<td>${esc(KINDS[d.issuer_kind] || d.issuer_kind)}</td><td>${esc(d.issuer)}</td><td>${esc(d.year)}</td><td>${esc(d.findings)}</td></tr>`).join("") + "</table>"
      : '<p class="muted">尚未导入文档。</p>';
  } catch (err) { box.innerHTML = failed(err); }
}
async function loadBatches() {
  try {
    const bs = await api("/batches");
    const sel = $("f-batch"), keep = sel.value;
    sel.innerHTML = '<option value="">全部</option>' + bs.map(b => `<option value="${esc(b.id)}">${esc(b.label || b.id)}（${esc(b.counts.ok)} 份）</option>`).join("");
    sel.value = keep;
  } catch { /* the filter stays at 全部 */ }
}
async function loadReview() {
  const box = $("review");
  box.innerHTML = LOADING;
  try {
    const items = await api("/review");
    box.innerHTML = items.length ? "<table><tr><th>把握</th><th>表述</th><th>出处</th><th class=\"writer\">审核</th></tr>" + items.map(f =>
      `<tr><td>${esc(Math.round(f.confidence * 100))}%</td><td>${esc(f.text)}</td><td>${cite(f)}</td>` +
      `<td class="writer"><button class="secondary small" data-decide="accepted" data-id="${esc(f.id)}">采纳</button> <button class="secondary small" data-decide="rejected" data-id="${esc(f.id)}">排除</button></td></tr>`).join("") + "</table>"
      : '<p class="muted">没有待审核的表述。</p>';
  } catch (err) { box.innerHTML = failed(err); }
}
$("review").addEventListener("click", async e => {
  const b = e.target.closest("button[data-decide]");
  if (!b) return;
  b.disabled = true;
  try {
    await post(`/review/${encodeURIComponent(b.dataset.id)}`, {decision: b.dataset.decide});
    loadReview(); loadClusters(); loadDocuments();
  } catch (err) { b.disabled = false; $("review").insertAdjacentHTML("afterbegin", failed(err)); }
});
async function loadAll() {
  await loadDocuments();  // titles for citations first
  loadBatches(); loadClusters(); loadReview(); loadEdits();
}
start();
