"""Data: bring the field teams' workbooks in, see what could not be loaded and hand it back
marked, tell the dashboard what an unrecognized column holds, restore an earlier version,
and get the blank template.

Everything that touches the store is in `impact.intake.pipeline`; this page only draws. The caches of
the other pages are keyed on `store.data_version()`, so an upload, a re-read or a restore is
seen by every page on its next run without clearing anything here.
"""
from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from impact.intake import pipeline
from impact.exports import excel_bytes
from impact.store import StoreUnavailable
from impact.intake.template import write_template
from impact.present.texts import problem, text
from app import cards, session

UPLOAD_TYPES = ["xlsx", "xls", "ods", "csv"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PX_PER_CHARACTER = 8     # of the tables' font, generously (Khmer runs wider than Latin)
log = logging.getLogger(__name__)

view, selection, lang = session.frame()
store = session.store()


def t(key: str, **values) -> str:
    return text(key, lang).format(**values) if values else text(key, lang)


@st.cache_data(show_spinner=False)
def template_bytes() -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        return write_template(Path(folder) / "template.xlsx").read_bytes()


def show_load(rows: list[dict], versions: pd.Series) -> None:
    """What the last upload did, one message per file, and a file's problems marked in it right
    there (`versions`: each upload's version of its source)."""
    for r in rows:
        if r["status"] == "unreadable":
            st.error(r["message"], icon="⛔")
            continue
        if r["status"] == "empty":
            st.warning(t("data_no_data_rows", file=r["file"]))
            continue
        previous = versions.get(r["previous_upload_id"], r["previous_upload_id"])
        status = t(f"data_status_{r['status']}", previous=previous)
        line = t("data_file_loaded", file=r["file"], organization=r["organization"], loaded=f"{r['rows_loaded']:,}",
                 rejected=f"{r['rows_rejected']:,}", skipped=f"{r['rows_skipped']:,}") + " " + status
        show = st.info if r["status"] == "unchanged" else st.warning if r["rows_rejected"] else st.success
        show(line)
        if r["issues"] and r["upload_id"] in versions:
            marked_button(r["upload_id"], r["file"], f"data_marked_{r['upload_id']}")


def marked_button(upload_id: int, file_name: str, key: str, column=st) -> None:
    """The field team's file of a version with its problems marked; made only when clicked
    (marking a large file takes seconds)."""
    column.download_button(t("data_download_marked"), lambda: pipeline.marked_upload(store, upload_id)[1],
                           f"{Path(file_name).stem}_issues.xlsx", XLSX, key=key, on_click="ignore",
                           help=t("data_download_marked_help"))


def failed_load(message: str) -> dict:
    """A last load that stored nothing, shown as its one error line."""
    return {"rows": [{"status": "unreadable", "message": message}], "conflicts": 0}


def keep_valid(key: str, options: list) -> None:
    """Drop a remembered choice that is no longer offered (after an upload or a restore)."""
    if key in st.session_state:
        value = st.session_state[key]
        if isinstance(value, list):
            st.session_state[key] = [v for v in value if v in options]
        elif value not in options:
            del st.session_state[key]


def upload_label(uploads: pd.DataFrame, versions: pd.Series):
    by_id = uploads.set_index("id")

    def label(upload_id: int) -> str:
        u = by_id.loc[upload_id]
        active = f" · {t('data_active')}" if u["active"] else ""
        return (f"{u['organization']} · {u['file_name']} · {t('data_version')} {versions[upload_id]} · "
                f"{u['uploaded_at']:%d/%m/%Y %H:%M}{active}")
    return label


# (a) Upload ---------------------------------------------------------------------------------
st.subheader(t("data_upload"))
nonce = st.session_state.setdefault("data_upload_nonce", 0)
files = st.file_uploader(t("data_upload_files"), type=UPLOAD_TYPES, accept_multiple_files=True,
                         key=f"data_files_{nonce}", help=t("data_upload_help"))
cards.uploader_texts(UPLOAD_TYPES, lang)
organization = st.text_input(t("data_upload_org"), key="data_organization", help=t("data_upload_org_help"))
if st.button(t("data_load"), type="primary", disabled=not files, key="data_load"):
    bar = st.progress(0.0, text=t("data_reading"))
    try:
        done = pipeline.ingest_files(
            store, [(f.name, f.getvalue()) for f in files], organization, uploader="dashboard",
            progress=lambda n, total, name: bar.progress(n / total, text=f"{t('data_reading')} {name} ({n}/{total})"))
        st.session_state["data_last_load"] = {"rows": done.rows(), "conflicts": len(done.result.conflicts)}
        stored = [r for r in done.rows() if r["upload_id"] is not None]
        if stored:   # show the files just loaded first: their problems, the first with problems below
            st.session_state["data_upload_choice"] = next(
                (r for r in stored if r["rows_rejected"]), stored[0])["upload_id"]
            st.session_state["data_issue_files"] = sorted({r["file"] for r in stored})
            st.session_state["data_issue_sheets"] = []
    except StoreUnavailable as exc:   # busy, disk full, read-only: one line, nothing was stored
        st.session_state["data_last_load"] = failed_load(str(exc))
    except Exception:   # a bug must not show the field team a traceback; the log keeps it
        log.exception("upload failed")
        st.session_state["data_last_load"] = {"failed": True}
    st.session_state["data_upload_nonce"] = nonce + 1    # empty the file picker
    st.rerun()

uploads = store.uploads()
versions = pipeline.source_versions(uploads)
last = st.session_state.get("data_last_load")
if last and last.get("failed"):
    st.error(t("data_load_failed"))
elif last:
    show_load(last["rows"], versions)
    if last["conflicts"]:
        st.info(t("data_conflicts", n=last["conflicts"]))
for message in st.session_state.pop("data_messages", []):
    st.success(message)

# (b) Issue report ---------------------------------------------------------------------------
st.subheader(t("issue_report"))
issues = pipeline.issue_report(store)
issues = issues.assign(problem=[problem(p, lang) for p in issues["problem"]])   # searched, shown in her language
left, middle, right = st.columns(3)
file_options = sorted(issues["file"].unique())
keep_valid("data_issue_files", file_options)
chosen_files = left.multiselect(t("data_file"), file_options, key="data_issue_files", placeholder=t("all"))
in_files = issues[issues["file"].isin(chosen_files)] if chosen_files else issues
sheet_options = sorted(in_files["sheet"].unique())
keep_valid("data_issue_sheets", sheet_options)
chosen_sheets = middle.multiselect(t("data_sheet"), sheet_options, key="data_issue_sheets", placeholder=t("all"))
search = right.text_input(t("data_search"), key="data_issue_search").strip().lower()
shown = in_files[in_files["sheet"].isin(chosen_sheets)] if chosen_sheets else in_files
if search:
    haystack = shown["problem"].str.lower() + " " + shown["column"].str.lower() + " " + shown["value"].str.lower()
    shown = shown[haystack.str.contains(search, regex=False)]
if issues.empty:
    st.success(t("data_no_issues"))
else:
    just_loaded = last and chosen_files and set(chosen_files) == {r["file"] for r in last.get("rows", [])
                                                                   if r.get("upload_id") is not None}
    st.caption(t("data_issues_shown", shown=f"{len(shown):,}", total=f"{len(issues):,}") + " " +
               (t("data_issues_just_loaded") + " " if just_loaded else "") + t("data_fix_hint"))
    # The problem is what the field team reads: before the value found, as wide as the longest
    # one (a table cell never wraps), the short columns narrow.
    problem_width = min(max(PX_PER_CHARACTER * int(shown["problem"].str.len().max() or 0) + 24, 400), 1200)
    st.dataframe(shown, hide_index=True, key="data_issues",
                 column_order=("file", "sheet", "row", "column", "problem", "value"), column_config={
                     "file": st.column_config.TextColumn(t("data_file"), width="medium"),
                     "sheet": st.column_config.TextColumn(t("data_sheet"), width="small"),
                     "row": st.column_config.NumberColumn(t("data_row"), width="small"),
                     "column": st.column_config.TextColumn(t("data_column"), width="small"),
                     "problem": st.column_config.TextColumn(t("data_problem"), width=problem_width),
                     "value": st.column_config.TextColumn(t("data_value"), width="small")})
    st.download_button(t("data_download_issues"), excel_bytes({"Issues": shown}), "issues.xlsx",
                       key="data_issues_xlsx", on_click="ignore")

# Sites the maps cannot place ---------------------------------------------------------------
unplaced = session.prepared().unplaced_sites
if unplaced:
    st.subheader(t("unplaced_sites"))
    st.caption(t("unplaced_sites_help"))
    st.dataframe(pd.DataFrame({"site": unplaced}), hide_index=True, key="data_unplaced",
                 column_config={"site": t("site")})

# One file: marked workbook, original, columns not stored ------------------------------------
if len(uploads):
    st.subheader(t("data_one_file"))
    ordered = pd.concat([uploads[uploads["active"]], uploads[~uploads["active"]]])["id"].tolist()
    keep_valid("data_upload_choice", ordered)
    upload_id = st.selectbox(t("data_choose_upload"), ordered, key="data_upload_choice",
                             format_func=upload_label(uploads, versions))
    upload_name = uploads.set_index("id").at[upload_id, "file_name"]
    left, right = st.columns(2)
    marked_button(upload_id, upload_name, "data_marked", left)
    right.download_button(t("data_download_original"), lambda chosen=upload_id: store.upload_content(chosen)[1],
                          upload_name, key="data_original", on_click="ignore")

    # (e) Columns not stored, and mapping an unrecognized one
    st.markdown(f"**{t('data_dropped')}**")
    dropped = pipeline.dropped_headers(store, upload_id)
    if not dropped:
        st.caption(t("data_no_dropped"))
    else:
        st.dataframe(pd.DataFrame([(d.sheet, d.header, d.reason, d.mappable) for d in dropped],
                                  columns=["sheet", "column", "reason", "mappable"]),
                     hide_index=True, key="data_dropped", column_config={
                         "sheet": t("data_sheet"), "column": t("data_column"), "reason": t("data_reason"),
                         "mappable": st.column_config.CheckboxColumn(t("data_mappable"))})
        mappable = [d for d in dropped if d.mappable]
        st.caption(t("data_map_help"))
        if not mappable:
            st.caption(t("data_no_mappable"))
        else:
            left, right = st.columns(2)
            which = left.selectbox(t("data_map_column"), range(len(mappable)), key=f"data_map_header_{upload_id}",
                                   format_func=lambda i: f"{mappable[i].sheet} › {mappable[i].header}")
            target = right.selectbox(t("data_map_to"), mappable[which].choices, index=None, placeholder=t("choose"),
                                     key=f"data_map_column_{upload_id}_{which}",
                                     format_func=lambda c: f"{c} ({mappable[which].table})")

            def save_mapping(found=mappable[which], column=target, chosen=upload_id):
                try:
                    done = pipeline.map_column(store, chosen, found.sheet, found.header, column)
                except (ValueError, KeyError, StoreUnavailable) as exc:
                    st.session_state["data_last_load"] = failed_load(str(exc))
                    return
                st.session_state["data_last_load"] = {"rows": done.rows(), "conflicts": len(done.result.conflicts)}
                st.session_state["data_messages"] = [t("data_mapped", header=found.header, column=column)]
                st.session_state["data_upload_choice"] = done.outcomes[0].upload_id

            st.button(t("data_map_save"), key="data_map_save", disabled=target is None, on_click=save_mapping)

# (c) Upload history and restore -------------------------------------------------------------
st.subheader(t("upload_history"))
if len(uploads):
    history = uploads.drop(columns=["sha256"]).assign(id=uploads["id"].map(versions))   # a source's own version
    st.dataframe(history, hide_index=True, key="data_history", column_config={
        "id": t("data_version").capitalize(), "organization": t("organization"), "file_name": t("data_file"),
        "uploaded_at": st.column_config.DatetimeColumn(t("data_uploaded_at"), format="DD/MM/YYYY HH:mm"),
        "uploader": t("data_uploader"), "rows_read": t("data_rows_read"), "rows_loaded": t("data_rows_loaded"),
        "rows_rejected": t("data_rows_rejected"), "rows_skipped": t("data_rows_skipped"),
        "active": st.column_config.CheckboxColumn(t("data_active").capitalize())})
earlier = uploads[~uploads["active"]]["id"].tolist()
if not earlier:
    st.caption(t("data_no_restore"))
else:
    label = upload_label(uploads, versions)
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    keep_valid("data_restore_choice", earlier)
    to_restore = left.selectbox(t("data_restore_choose"), earlier, key="data_restore_choice", format_func=label)
    if right.button(t("data_restore"), key="data_restore"):
        st.session_state["data_confirm_restore"] = to_restore
    pending = st.session_state.get("data_confirm_restore")
    if pending is not None and pending == to_restore:
        u = uploads.set_index("id").loc[pending]
        st.warning(t("data_restore_confirm", id=versions[pending], file=u["file_name"],
                     date=f"{u['uploaded_at']:%d/%m/%Y %H:%M}"))

        def restore(chosen=pending, file_name=u["file_name"], version=versions[pending]):
            try:
                store.restore(chosen)
            except StoreUnavailable as exc:
                st.session_state["data_last_load"] = failed_load(str(exc))
                return
            st.session_state.pop("data_confirm_restore", None)
            st.session_state["data_messages"] = [t("data_restored", id=version, file=file_name)]

        yes, no = st.columns(2)
        yes.button(t("data_restore_yes"), key="data_restore_yes", type="primary", on_click=restore)
        no.button(t("data_cancel"), key="data_restore_cancel",
                  on_click=lambda: st.session_state.pop("data_confirm_restore", None))

# (d) Blank template -------------------------------------------------------------------------
st.subheader(t("data_template"))
st.caption(t("data_template_caption"))
st.download_button(t("data_download_template"), template_bytes(), "impact_template.xlsx", XLSX,
                   key="data_template", on_click="ignore")
