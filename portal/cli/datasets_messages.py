"""The datasets commands' own words, in English and Chinese."""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    "created": {"en": "Dataset {slug} created.", "zh": "数据集 {slug} 已创建。"},
    "version_created": {"en": "Version {number} of {slug} created.", "zh": "已创建 {slug} 的版本 {number}。"},
    "hashing": {"en": "Hashing files in {folder}…", "zh": "正在计算 {folder} 中文件的校验和…"},
    "uploading": {"en": "Uploading", "zh": "上传中"},
    "uploaded": {"en": "Uploaded", "zh": "已上传"},
    "validating": {
        "en": "Verifying checksums, scanning and validating…",
        "zh": "正在核对校验和、扫描并校验……",
    },
    "resending": {
        "en": "{count} file(s) did not match their checksums after upload and were discarded; "
        "sending again: {paths}",
        "zh": "{count} 个文件上传后与校验和不一致，已被丢弃，正在重新发送：{paths}",
    },
    "resend_failed": {
        "en": "{count} file(s) still do not match their checksums after several attempts: {paths}. "
        "Check that these files are not being changed during the upload, then push again.",
        "zh": "多次重试后仍有 {count} 个文件与校验和不一致：{paths}。"
        "请确认上传期间这些文件未被修改，然后重新推送。",
    },
    "still_validating": {
        "en": "{slug} v{number} is still being verified; "
        "check it later with `aicommons datasets status {slug} {number}`.",
        "zh": "{slug} v{number} 仍在校验中；稍后可用 `aicommons datasets status {slug} {number}` 查看。",
    },
    "validating_later": {
        "en": "Verification and validation run in the portal; "
        "follow them with `aicommons datasets status {slug} {number}`.",
        "zh": "平台正在后台校验；可用 `aicommons datasets status {slug} {number}` 查看进度。",
    },
    "pushed": {
        "en": "{slug} v{number}: {state} · {files} files · {bytes} bytes · {digest}",
        "zh": "{slug} v{number}：{state} · {files} 个文件 · {bytes} 字节 · {digest}",
    },
    "blocked": {"en": "Blocked: {reasons}", "zh": "已阻断：{reasons}"},
    "findings": {"en": "Personal data found: {counts}", "zh": "发现个人信息：{counts}"},
    "mask_hint": {
        "en": "Mask it (`aicommons datasets mask DIR OUT`) and push OUT again, or override with a reason.",
        "zh": "请用 `aicommons datasets mask DIR OUT` 脱敏后重新推送 OUT；或填写理由予以豁免。",
    },
    "validation_errors": {"en": "Validation errors:", "zh": "校验错误："},
    "masked": {
        "en": "Masked {count} findings in {files} files into {target}.",
        "zh": "已在 {files} 个文件中脱敏 {count} 处，输出到 {target}。",
    },
    "published": {"en": "{slug} v{number} published.", "zh": "{slug} v{number} 已发布。"},
    "state": {"en": "{slug} v{number}: {state}", "zh": "{slug} v{number}：{state}"},
    "downloaded": {
        "en": "Downloaded {files} files into {target}.",
        "zh": "已下载 {files} 个文件到 {target}。",
    },
    "checksum_failed": {"en": "Checksum mismatch for {path}", "zh": "{path} 校验和不一致"},
    "grant": {"en": "Grant {id}: {state}", "zh": "授权 {id}：{state}"},
    "licence_accepted": {"en": "Licence of {slug} accepted.", "zh": "已接受 {slug} 的许可协议。"},
    "results": {"en": "{total} datasets", "zh": "共 {total} 个数据集"},
    "col_slug": {"en": "slug", "zh": "标识"},
    "col_title": {"en": "title", "zh": "标题"},
    "col_domain": {"en": "domain", "zh": "领域"},
    "col_level": {"en": "level", "zh": "级别"},
    "col_licence": {"en": "licence", "zh": "许可"},
    "col_version": {"en": "version", "zh": "版本"},
    "col_state": {"en": "state", "zh": "状态"},
    "col_files": {"en": "files", "zh": "文件数"},
    "col_org": {"en": "organisation", "zh": "机构"},
    "col_purpose": {"en": "purpose", "zh": "用途"},
    "col_expires": {"en": "expires", "zh": "过期时间"},
    "col_job": {"en": "job", "zh": "作业"},
    "col_used_at": {"en": "used at", "zh": "使用时间"},
    "uses_title": {"en": "Jobs that used {ref}: {total}", "zh": "使用过 {ref} 的作业：共 {total} 个"},
    "uses_more": {
        "en": "Showing {shown} of {total}; the next page: --offset {next}",
        "zh": "显示 {shown} 个，共 {total} 个；下一页：--offset {next}",
    },
    "bad_ref": {
        "en": "{ref}: expected SLUG or SLUG@N with a version number N ≥ 1",
        "zh": "{ref}：应为 SLUG 或 SLUG@N（N 为不小于 1 的版本号）",
    },
}


def say(key: str, lang: str, **params: object) -> str:
    return MESSAGES[key][lang].format(**params)
