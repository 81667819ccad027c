"""Messages of the datasets domain, in English and Chinese."""

from aicommons.portal.core.i18n import register

register(
    {
        "dataset.not_found": {"en": "Dataset not found", "zh": "数据集不存在"},
        "dataset.version_not_found": {
            "en": "Dataset version {number} not found",
            "zh": "数据集版本 {number} 不存在",
        },
        "dataset.slug_taken": {
            "en": "A dataset with slug {slug} already exists",
            "zh": "标识为 {slug} 的数据集已存在",
        },
        "dataset.unknown_domain": {"en": "Unknown domain {domain}", "zh": "未知的领域 {domain}"},
        "dataset.domain_exists": {"en": "Domain {domain} already exists", "zh": "领域 {domain} 已存在"},
        "dataset.custom_licence_text": {
            "en": "A custom licence needs a name and its full text",
            "zh": "自定义许可证需要名称和全文",
        },
        "dataset.bad_transition": {
            "en": "A version in state {current} cannot become {target}",
            "zh": "处于 {current} 状态的版本不能变为 {target}",
        },
        "dataset.immutable": {
            "en": "Version {number} is {state}; published versions are immutable",
            "zh": "版本 {number} 处于 {state} 状态；已发布版本不可修改",
        },
        "dataset.bad_path": {
            "en": "Invalid file path {path}: use relative paths with / and no '..'",
            "zh": "无效的文件路径 {path}：请使用以 / 分隔、不含 '..' 的相对路径",
        },
        "dataset.duplicate_path": {"en": "The file {path} is listed twice", "zh": "文件 {path} 重复出现"},
        "dataset.too_many_files": {
            "en": "The manifest lists {count} files; the limit is {limit}",
            "zh": "清单包含 {count} 个文件，上限为 {limit}",
        },
        "dataset.file_too_large": {
            "en": "The file {path} is {size} bytes; the limit is {limit}",
            "zh": "文件 {path} 大小为 {size} 字节，上限为 {limit}",
        },
        "dataset.bad_checksum": {
            "en": "Invalid sha256 for {path}: expected 64 hexadecimal characters",
            "zh": "{path} 的 sha256 无效：应为 64 位十六进制字符",
        },
        "dataset.checksum_not_declared": {
            "en": "{count} file(s) have no sha256 yet, e.g. {path}: declare them when completing the upload",
            "zh": "{count} 个文件尚未声明 sha256，例如 {path}：请在完成上传时一并声明",
        },
        "dataset.not_in_upload": {
            "en": "{path} is not a file of this upload",
            "zh": "{path} 不是本次上传的文件",
        },
        "dataset.empty_manifest": {"en": "The manifest lists no files", "zh": "清单中没有文件"},
        "dataset.upload_incomplete": {
            "en": "The upload is incomplete: {detail}",
            "zh": "上传尚未完成：{detail}",
        },
        "dataset.validating": {
            "en": "Version {number} is being verified and validated; wait until it is ready, blocked "
            "or back to uploading",
            "zh": "版本 {number} 正在校验中；请等待其变为待发布、已阻断或退回上传中",
        },
        "dataset.upload_unknown": {"en": "Unknown or finished upload", "zh": "上传不存在或已结束"},
        "dataset.bad_signature": {"en": "The link signature is invalid", "zh": "链接签名无效"},
        "dataset.url_expired": {"en": "The link has expired", "zh": "链接已过期"},
        "dataset.unknown_format": {
            "en": "Unknown label format {format}",
            "zh": "未知的标注格式 {format}",
        },
        "dataset.not_publishable": {
            "en": "Level L4 datasets cannot be published",
            "zh": "L4 级数据集不可发布",
        },
        "dataset.override_not_allowed": {
            "en": "Only a personal-data block can be overridden; fix the validation errors and upload again",
            "zh": "只能对个人信息阻断进行豁免；请修正校验错误后重新上传",
        },
        "dataset.not_downloadable": {
            "en": "This dataset (level {level}) can only be read inside platform jobs, never downloaded",
            "zh": "该数据集（{level} 级）只能在平台作业内读取，不可下载",
        },
        "dataset.licence_not_accepted": {
            "en": "Accept the dataset's licence before downloading",
            "zh": "下载前请先接受该数据集的许可协议",
        },
        "dataset.not_published": {"en": "Version {number} is not published", "zh": "版本 {number} 尚未发布"},
        "dataset.grant_not_needed": {
            "en": "Access requests are only for level L3 datasets",
            "zh": "只有 L3 级数据集需要申请访问",
        },
        "dataset.grant_pending": {
            "en": "The organisation already has a pending or active grant",
            "zh": "该机构已有待审批或有效的授权",
        },
        "dataset.grant_not_found": {"en": "Access grant not found", "zh": "访问授权不存在"},
        "dataset.grant_bad_state": {
            "en": "The grant is {state} and cannot be changed that way",
            "zh": "该授权处于 {state} 状态，无法这样修改",
        },
        "dataset.no_grant": {
            "en": "Organisation has no active access grant for dataset {slug}",
            "zh": "机构没有数据集 {slug} 的有效访问授权",
        },
        "dataset.storage_unavailable": {
            "en": "Object storage is unavailable: {detail}",
            "zh": "对象存储不可用：{detail}",
        },
        "dataset.no_thumbnail": {
            "en": "Version {number} has no thumbnail {index}",
            "zh": "版本 {number} 没有第 {index} 张缩略图",
        },
        "dataset.thumbnails_restricted": {
            "en": "Datasets at level {level} have no thumbnails: their content is usable but not visible",
            "zh": "{level} 级数据集没有缩略图：其内容可使用但不可查看",
        },
    }
)
