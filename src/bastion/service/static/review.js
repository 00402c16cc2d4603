// Keyboard shortcuts: a key press clicks the button that declares it in
// data-key, unless the reviewer is typing in a field.
document.addEventListener("keydown", function (event) {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  var target = event.target;
  if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
  var button = document.querySelector('[data-key="' + CSS.escape(event.key) + '"]');
  if (button) {
    event.preventDefault();
    button.click();
  }
});
