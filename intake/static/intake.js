// Comfort only: everything works without this script.
(function () {
  "use strict";
  // A live count of characters (as the server counts them: code points) under each text box.
  document.querySelectorAll("textarea[data-max]").forEach(function (area) {
    var max = parseInt(area.getAttribute("data-max"), 10);
    var template = area.getAttribute("data-counter");
    var output = document.createElement("span");
    output.className = "counter";
    output.setAttribute("aria-live", "polite");
    area.insertAdjacentElement("afterend", output);
    function update() {
      var count = Array.from(area.value).length;
      output.textContent = template.replace("{count}", count).replace("{max}", max);
      output.classList.toggle("over", count > max);
    }
    area.addEventListener("input", update);
    update();
  });
  // Say at once when a chosen file is too large, instead of after a long upload.
  document.querySelectorAll("input[type=file][data-max-bytes]").forEach(function (input) {
    var limit = parseInt(input.getAttribute("data-max-bytes"), 10);
    var message = input.getAttribute("data-too-large");
    input.addEventListener("change", function () {
      var large = Array.from(input.files).filter(function (file) { return file.size > limit; });
      input.setCustomValidity(large.length ? message.replace("{name}", large[0].name) : "");
      input.reportValidity();
    });
  });
})();
