// The console's only script: ask before a form with data-confirm changes a
// strategy. Without JavaScript the forms still work, without the question.
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form.getAttribute && form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
    return;
  }
  var button = form.querySelector && form.querySelector("button[type=submit]");
  if (button) {
    // One click, one change: a second click while the first is on its way does nothing.
    window.setTimeout(function () { button.disabled = true; }, 0);
  }
});

// The strategies list's filter and sort apply as soon as they are chosen.
document.addEventListener("change", function (event) {
  var field = event.target;
  if (field.tagName === "SELECT" && field.form && field.form.classList.contains("filters")) {
    field.form.submit();
  }
});
