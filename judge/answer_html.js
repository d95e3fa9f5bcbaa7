// Rendered texts (judge/answer_html.py) reach the page only through showMarkdown: the HTML is parsed in an
// inert document (a DOMParser document runs no script and loads nothing), then rebuilt element by element
// with the tags and attributes the renderer emits. Anything else keeps only its text.
const MD_TAGS = new Set(["p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote",
  "pre", "code", "em", "strong", "s", "a", "table", "thead", "tbody", "tr", "th", "td"]);
const MD_ATTRIBUTES = { a: ["class", "href", "title"], ol: ["start"], code: ["class"], th: ["class"], td: ["class"] };
const MD_CHECKS = {
  href: (value) => /^(https?|mailto):/i.test(value),
  class: (value) => /^[\w+#.-]{1,60}$/.test(value),
  start: (value) => /^\d{1,9}$/.test(value),
  title: () => true,
};

function copySafe(source, target) {
  for (const node of source.childNodes) {
    if (node.nodeType === Node.TEXT_NODE) {
      target.append(node.data);
    } else if (node.nodeType === Node.ELEMENT_NODE) {
      const tag = node.localName;
      if (!MD_TAGS.has(tag)) { target.append(node.textContent); continue; }
      const copy = document.createElement(tag);
      for (const name of MD_ATTRIBUTES[tag] || []) {
        const value = node.getAttribute(name);
        if (value !== null && MD_CHECKS[name](value)) copy.setAttribute(name, value);
      }
      if (tag === "a") { copy.target = "_blank"; copy.rel = "noopener noreferrer nofollow"; }
      copySafe(node, copy);
      target.append(copy);
    }
  }
}

function showMarkdown(target, html) {
  const inert = new DOMParser().parseFromString(html, "text/html");
  const box = document.createElement("div");
  box.className = "md";
  copySafe(inert.body, box);
  target.replaceChildren(box);
  return target;
}
