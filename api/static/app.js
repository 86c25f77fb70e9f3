// The analysts' page. Served as a file (the CSP allows no inline script); talks only to this server.
"use strict";
const KINDS = {inspection: "巡察", audit: "审计", congress: "人大", discipline: "纪委监委", finance: "财会监督", statistics: "统计", legal: "政法", other: "其他"};
const esc = s => String(s ?? "").replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
const $ = id => document.getElementById(id);
for (const sel of ["up-kind", "f-kind"]) {
  for (const [k, v] of Object.entries(KINDS)) $(sel).insertAdjacentHTML("beforeend", `<option value="${esc(k)}">${esc(v)}</option>`);
}
// The access token (multi-user mode) lives in this tab only and goes out as a Bearer header.
const tokenInput = $("token");
tokenInput.value = sessionStorage.getItem("miner-token") || "";
tokenInput.onchange = () => { sessionStorage.setItem("miner-token", tokenInput.value.trim()); loadDocuments(); loadClusters(); loadReview(); };
$("token-box").onsubmit = e => { e.preventDefault(); tokenInput.onchange(); };
function authed(opts = {}) {
  const token = tokenInput.value.trim();
  const headers = Object.assign({}, opts.headers || {});
  if (token) headers.Authorization = "Bearer " + token;
  return Object.assign({}, opts, {headers, credentials: "same-origin"});
}
async function fail(r) {
  const body = await r.json().catch(() => ({}));
  if (r.status === 401) return new Error("需要有效的访问令牌（请在右上角填写）/ " + (body.error || "unauthorized"));
  return new Error(body.error ? (typeof body.error === "string" ? body.error : JSON.stringify(body.error)) : r.statusText);
}
async function api(path, opts) {
  const r = await fetch(path, authed(opts));
  if (!r.ok) throw await fail(r);
  return r.json();
}
function findingRows(hits, withScore) {
  if (!hits.length) return '<p class="muted">没有找到。</p>';
  return `<table><tr>${withScore ? "<th>相关度</th>" : ""}<th>问题表述</th><th>发现机关</th><th>单位</th><th>年份</th><th>出处</th></tr>` +
    hits.map(h => `<tr>${withScore ? `<td>${esc(h.score)}</td>` : ""}<td>${esc(h.text)}</td><td><span class="tag">${esc(KINDS[h.issuer_kind] || h.issuer_kind)}</span>${esc(h.issuer)}</td>` +
      `<td>${esc(h.unit)}</td><td>${esc(h.year)}</td><td class="cite">${esc(h.document)} 第${esc(h.page)}页<br><a class="link" data-similar="${esc(h.id)}">查相似</a></td></tr>`).join("") + "</table>";
}
$("upload-form").onsubmit = async e => {
  e.preventDefault();
  const files = $("files").files;
  if (!files.length) return;
  const fd = new FormData();
  for (const f of files) fd.append("files", f);
  const meta = {};
  const kind = $("up-kind").value, year = $("up-year").value.trim();
  if (kind) meta.issuer_kind = kind;
  if (year) meta.year = /^\d{4}$/.test(year) ? parseInt(year, 10) : year;  // the server explains a bad year
  if (Object.keys(meta).length) fd.append("metadata", JSON.stringify(meta));
  fd.append("label", $("up-label").value);
  const st = $("status");
  st.textContent = "正在上传并解析……";
  try {
    const b = await api("/batches", {method: "POST", body: fd});
    st.innerHTML = `批次 ${esc(b.id)}：成功 ${esc(b.counts.ok)}，重复 ${esc(b.counts.duplicate)}，失败 ${esc(b.counts.failed)}` +
      "<ul>" + b.files.map(f => `<li class="${esc(f.status)}">${esc(f.name)}：${esc(({ok: "成功", duplicate: "重复（已跳过）", failed: "失败"})[f.status])} ${f.findings ? esc(f.findings) + " 条问题" : ""} ${esc(f.message)}</li>`).join("") + "</ul>";
    loadDocuments(); loadClusters(); loadReview();
  } catch (err) { st.innerHTML = `<span class="failed">上传失败：${esc(err.message)}</span>`; }
};
$("search-form").onsubmit = async e => {
  e.preventDefault();
  const p = new URLSearchParams({q: $("q").value, k: 20});
  const kind = $("f-kind").value, year = $("f-year").value, unit = $("f-unit").value;
  if (kind) p.append("issuer_kind", kind);
  if (year) p.append("year", year);
  if (unit) p.append("unit", unit);
  const box = $("results");
  try { const r = await api("/search?" + p); box.innerHTML = findingRows(r.hits, true); }
  catch (err) { box.innerHTML = `<p class="failed">${esc(err.message)}</p>`; }
};
async function similar(id) {
  const box = $("results");
  try {
    const r = await api(`/findings/${encodeURIComponent(id)}/similar?k=15`);
    box.innerHTML = `<p>与「${esc(r.finding.text)}」相似的问题（${esc(r.finding.document)} 第${esc(r.finding.page)}页）：</p>` + findingRows(r.hits, true);
    box.scrollIntoView();
  } catch (err) { box.innerHTML = `<p class="failed">${esc(err.message)}</p>`; }
}
$("results").addEventListener("click", e => {
  const a = e.target.closest("a[data-similar]");
  if (a) similar(a.dataset.similar);
});
async function loadClusters() {
  const box = $("clusters");
  const minBodies = $("min-bodies").value;
  try {
    const cs = await api(`/clusters?min_bodies=${encodeURIComponent(minBodies)}`);
    if (!cs.length) { box.innerHTML = '<p class="muted">暂无共性问题。</p>'; return; }
    box.innerHTML = "<table><tr><th>序号</th><th>共性问题</th><th>范围</th><th>典型表述</th></tr>" + cs.map((c, i) =>
      `<tr><td>${i + 1}</td><td><b>${esc(c.label)}</b><br><span class="muted">${esc((c.keywords || []).slice(0, 6).join("、"))}</span></td><td>${esc(c.span)}</td>` +
      `<td>${(c.findings || []).slice(0, 3).map(f => `${esc(f.text)} <span class="cite">（${esc(f.document)} 第${esc(f.page)}页）</span>`).join("<br>")}</td></tr>`).join("") + "</table>";
  } catch (err) { box.innerHTML = `<p class="failed">${esc(err.message)}</p>`; }
}
async function loadDocuments() {
  const box = $("documents");
  try {
    const ds = await api("/documents");
    box.innerHTML = ds.length ? "<table><tr><th>文件</th><th>标题</th><th>类别</th><th>发文机关</th><th>年份</th><th>问题数</th></tr>" + ds.map(d =>
      `<tr><td>${esc(d.name)}</td><td>${esc(d.title)}</td><td>${esc(KINDS[d.issuer_kind] || d.issuer_kind)}</td><td>${esc(d.issuer)}</td><td>${esc(d.year)}</td><td>${esc(d.findings)}</td></tr>`).join("") + "</table>"
      : '<p class="muted">尚未导入文档。</p>';
  } catch (err) { box.innerHTML = `<p class="failed">${esc(err.message)}</p>`; }
}
async function loadReview() {
  const box = $("review");
  box.innerHTML = '<p class="muted">加载中……</p>';
  try {
    const items = await api("/review");
    box.innerHTML = items.length ? "<table><tr><th>把握</th><th>表述</th><th>出处</th><th>审核</th></tr>" + items.map(f =>
      `<tr><td>${esc(Math.round(f.confidence * 100))}%</td><td>${esc(f.text)}</td><td class="cite">${esc(f.document)} 第${esc(f.page)}页</td>` +
      `<td><button class="secondary" data-decide="accepted" data-id="${esc(f.id)}">采纳</button> <button class="secondary" data-decide="rejected" data-id="${esc(f.id)}">排除</button></td></tr>`).join("") + "</table>"
      : '<p class="muted">没有待审核的表述。</p>';
  } catch (err) { box.innerHTML = `<p class="failed">${esc(err.message)}</p>`; }
}
$("review").addEventListener("click", async e => {
  const b = e.target.closest("button[data-decide]");
  if (!b) return;
  b.disabled = true;
  try {
    await api(`/review/${encodeURIComponent(b.dataset.id)}`, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify({decision: b.dataset.decide})});
    loadReview(); loadClusters(); loadDocuments();
  } catch (err) { b.disabled = false; $("review").insertAdjacentHTML("afterbegin", `<p class="failed">${esc(err.message)}</p>`); }
});
$("load-clusters").onclick = loadClusters;
// Exports download through fetch, so the token goes along (a plain link could not send it).
document.querySelectorAll("a[data-fmt]").forEach(a => a.onclick = async () => {
  const p = new URLSearchParams({format: a.dataset.fmt, min_bodies: $("min-bodies").value});
  try {
    const r = await fetch("/exports?" + p, authed());
    if (!r.ok) throw await fail(r);
    const url = URL.createObjectURL(await r.blob());
    const name = decodeURIComponent(((r.headers.get("content-disposition") || "").match(/filename\*=utf-8''([^;]+)/i) || [])[1] || "export." + a.dataset.fmt);
    const link = Object.assign(document.createElement("a"), {href: url, download: name});
    document.body.appendChild(link); link.click(); link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (err) { $("clusters").insertAdjacentHTML("afterbegin", `<p class="failed">导出失败：${esc(err.message)}</p>`); }
});
loadDocuments(); loadClusters(); loadReview();
