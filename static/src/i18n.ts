// Every word the UI shows, in English and Simplified Chinese. The browser's language picks one;
// the switch in the header changes it (kept in localStorage).

const en = {
  appName: "berth",
  signIn: "Sign in",
  signOut: "Sign out",
  register: "Create account",
  username: "Username",
  password: "Password",
  needAccount: "No account yet?",
  haveAccount: "Have an account?",
  containers: "Containers",
  language: "Language",
  image: "Image",
  command: "Command",
  create: "Create",
  start: "Start",
  stop: "Stop",
  remove: "Remove",
  terminal: "Terminal",
  state: "State",
  host: "Host",
  name: "Name",
  actions: "Actions",
  noContainers: "No containers yet.",
  confirmRemove: "Remove container {name}? Its files are lost.",
  reconnecting: "Connection lost; reconnecting…",
  back: "Back to containers",
  terminalOf: "Terminal of {name}",
  exited: "[process exited with code {code}]",
  created: "Container created.",
  newContainer: "New container",
  workspaces: "Workspaces",
  template: "Template",
  noWorkspaces: "No workspaces yet.",
  newWorkspace: "New workspace",
  open: "Open",
  files: "Files",
  fileName: "File name",
  newFile: "New file",
  save: "Save",
  saved: "Saved",
  unsaved: "unsaved changes",
  run: "Run",
  output: "Output",
  ranWith: "[exited with code {code} after {ms} ms]",
  killedBecause: "[killed: {why}]",
  editorOf: "Workspace {name}",
  up: "Up one folder",
  editor: "Editor",
  attendance: "Attendance",
  newCourse: "New course",
  joinCode: "join code",
  openAttendance: "Open attendance",
  checkInCode: "Check-in code",
  present: "Present",
  presentOf: "{present} of {enrolled} present",
  roster: "Roster",
  changesIn: "changes in {s} s",
  closed: "closed",
  closeAttendance: "Close attendance",
  checkIn: "Check in",
  course: "Course",
  code: "Code",
  checkedIn: "You are checked in (since {at}).",
  logs: "Logs",
  logsOf: "Logs of {name}",
  lineCount: "Line count",
  lines: "{n} lines",
  search: "Search",
  follow: "Follow",
  allLines: "All",
  lastLines: "Lines from the end",
  timestamps: "Timestamps",
  earlierLines: "Earlier lines",
  fromTheStart: "Showing the log from its first line.",
  loadingEarlier: "Loading earlier lines…",
  scrollForEarlier: "Scroll to the top for earlier lines.",
  // logs, stats, the IDE's terminal (logs.ts, stats.ts, ide.ts)
  // images, registries, hosts (images.ts, admin.ts)
};

export type Key = keyof typeof en;

const zh: Record<Key, string> = {
  appName: "berth",
  signIn: "登录",
  signOut: "退出登录",
  register: "注册账号",
  username: "用户名",
  password: "密码",
  needAccount: "还没有账号？",
  haveAccount: "已有账号？",
  containers: "容器",
  language: "语言",
  image: "镜像",
  command: "命令",
  create: "创建",
  start: "启动",
  stop: "停止",
  remove: "删除",
  terminal: "终端",
  state: "状态",
  host: "主机",
  name: "名称",
  actions: "操作",
  noContainers: "还没有容器。",
  confirmRemove: "删除容器 {name}？其中的文件将丢失。",
  reconnecting: "连接已断开，正在重新连接…",
  back: "返回容器列表",
  terminalOf: "{name} 的终端",
  exited: "[进程已退出，退出码 {code}]",
  created: "容器已创建。",
  newContainer: "新建容器",
  workspaces: "工作区",
  template: "模板",
  noWorkspaces: "还没有工作区。",
  newWorkspace: "新建工作区",
  open: "打开",
  files: "文件",
  fileName: "文件名",
  newFile: "新建文件",
  save: "保存",
  saved: "已保存",
  unsaved: "有未保存的修改",
  run: "运行",
  output: "输出",
  ranWith: "[退出码 {code}，用时 {ms} 毫秒]",
  killedBecause: "[已终止：{why}]",
  editorOf: "工作区 {name}",
  up: "返回上一级",
  editor: "编辑器",
  attendance: "考勤",
  newCourse: "新建课程",
  joinCode: "加入码",
  openAttendance: "开始考勤",
  checkInCode: "签到码",
  present: "已到",
  presentOf: "已到 {present} / {enrolled} 人",
  roster: "名单",
  changesIn: "{s} 秒后更换",
  closed: "已结束",
  closeAttendance: "结束考勤",
  checkIn: "签到",
  course: "课程",
  code: "签到码",
  checkedIn: "签到成功（{at}）。",
  logs: "日志",
  logsOf: "{name} 的日志",
  lineCount: "行数",
  lines: "{n} 行",
  search: "搜索",
  follow: "跟随",
  allLines: "全部",
  lastLines: "末尾行数",
  timestamps: "时间戳",
  earlierLines: "更早的行",
  fromTheStart: "已显示到日志的第一行。",
  loadingEarlier: "正在加载更早的行…",
  scrollForEarlier: "滚动到顶部以加载更早的行。",
  // logs, stats, the IDE's terminal (logs.ts, stats.ts, ide.ts)
  // images, registries, hosts (images.ts, admin.ts)
};

const tables: Record<string, Record<Key, string>> = { en, zh };

export let lang: string =
  localStorage.getItem("berth.lang") ??
  (navigator.language.toLowerCase().startsWith("zh") ? "zh" : "en");

export function setLang(next: string) {
  lang = tables[next] ? next : "en";
  localStorage.setItem("berth.lang", lang);
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
}

/** The text for `key`, with `{name}` placeholders filled in. */
export function t(key: Key, vars: Record<string, string | number> = {}): string {
  let text = (tables[lang] ?? en)[key];
  for (const [name, value] of Object.entries(vars)) {
    text = text.replace(`{${name}}`, String(value));
  }
  return text;
}

/** Error codes from the API, in words a user understands. */
const errorWords: Record<string, Record<string, string>> = {
  en: {
    unauthorized: "Wrong username or password, or you were signed out.",
    forbidden: "You are not allowed to do that.",
    not_found: "It does not exist (or is not yours).",
    conflict: "That clashes with something that exists.",
    quota_exceeded: "That would go beyond your quota.",
    too_many: "Too many attempts; wait a moment.",
    unavailable: "The Docker host is not answering; try again shortly.",
    internal: "Something went wrong on the server.",
  },
  zh: {
    unauthorized: "用户名或密码错误，或登录已失效。",
    forbidden: "你没有权限这样做。",
    not_found: "不存在（或不属于你）。",
    conflict: "与已有的内容冲突。",
    quota_exceeded: "超出了你的配额。",
    too_many: "尝试次数过多，请稍候。",
    unavailable: "Docker 主机没有响应，请稍后再试。",
    internal: "服务器出错了。",
  },
};

export function errorText(code: string, message: string): string {
  const words = (errorWords[lang] ?? errorWords.en)[code];
  // The server's message says what exactly; the words say what it means.
  return words && code !== "bad_request" ? `${words} (${message})` : message;
}
