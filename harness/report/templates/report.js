(function(){
  var rows=[].slice.call(document.querySelectorAll('#samples .sample'));
  if(!rows.length)return;
  var perPage=10,page=0,status=document.getElementById('status-filter'),task=document.getElementById('task-filter'),
      search=document.getElementById('search'),label=document.getElementById('page');
  function matching(){var s=status.value,t=task.value,q=search.value.toLowerCase();
    return rows.filter(function(r){return (!s||r.dataset.status===s)&&(!t||r.dataset.task===t)&&
      (!q||r.dataset.text.indexOf(q)>=0);});}
  function show(){var m=matching(),pages=Math.max(1,Math.ceil(m.length/perPage));page=Math.min(page,pages-1);
    rows.forEach(function(r){r.classList.add('hidden');});
    m.slice(page*perPage,(page+1)*perPage).forEach(function(r){r.classList.remove('hidden');});
    label.textContent='page '+(page+1)+' of '+pages+' ('+m.length+' samples)';}
  [status,task,search].forEach(function(e){e.addEventListener('input',function(){page=0;show();});});
  document.getElementById('prev').onclick=function(){page=Math.max(0,page-1);show();};
  document.getElementById('next').onclick=function(){page=page+1;show();};
  document.addEventListener('keydown',function(e){if(e.target===search)return;
    if(e.key==='ArrowRight'){page=page+1;show();}else if(e.key==='ArrowLeft'){page=Math.max(0,page-1);show();}
    else if(e.key==='/'){e.preventDefault();search.focus();}});
  show();
})();
