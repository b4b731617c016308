#!/usr/bin/env python3
"""Per-hop timelines of one client's slow writes (issue #16, helper p99d).

Reads what bench/raft-write-tail.ts leaves with TAIL_NET=1 and DUMP=FILE: FILE (each write's start
and latency), FILE.nodes.json (pids, API and Raft ports, which is the leader) and the daemons'
$TAIL_DIR/obs-PID.txt (socket reads/writes, fsyncs, GC). For every write at or over p99 it prints,
in ms after the client's start: Lreq (the leader reads the request), Lapp (its appends leave),
Lfs (its fsync start, end), per follower (append read, (fsync start, end), ack written), Lacks (the
leader reads the acks), Lresp (the leader writes the answer), end (the client has it); then counts
the slow writes by where the time went.

  TAIL_NET=1 DUMP=/tmp/d.json flock /tmp/bench.lock npx tsx bench/raft-write-tail.ts
  python3 bench/raft-write-hops.py /tmp/d.json /tmp/raft-write-tail [rows]
"""
import json, sys, glob, bisect, os
dump=sys.argv[1]; obsdir=sys.argv[2]
d=json.load(open(dump)); nodes=json.load(open(dump+'.nodes.json'))
rec=d['rec']
lat=sorted(r[1] for r in rec); thr=lat[int(0.99*len(lat))]
info={}
for n in nodes:
  api=int(n['api'].rsplit(':',1)[1]); info[n['pid']]=dict(api=api,raft=int(n['raft']),leader=n['leader'],name='L' if n['leader'] else 'F%d'%len([1 for k in info if not info[k]['leader']]))
ev={}
for f in glob.glob(obsdir+'/obs-*.txt'):
  pid=int(os.path.basename(f)[4:-4])
  if pid not in info: continue
  L=[]
  for line in open(f):
    p=line.split()
    if not p: continue
    if p[0]=='net': L.append(('net',float(p[1]),int(p[2]),p[3]))
    elif p[0]=='fsync': L.append(('fsync',float(p[1]),float(p[2]),''))
    elif p[0]=='gc': L.append(('gc',float(p[1]),float(p[2]),p[3]))
  L.sort(key=lambda e:e[1]); ev[pid]=(L,[e[1] for e in L])
lead=[p for p in info if info[p]['leader']][0]; fol=[p for p in info if not info[p]['leader']]
api=info[lead]['api']; fraft={info[p]['raft']:p for p in fol}; lraft=info[lead]['raft']
def first(pid,t,pred,limit=50):
  L,T=ev[pid]; i=bisect.bisect_left(T,t)
  while i<len(L) and L[i][1]<t+limit:
    if pred(L[i]): return L[i]
    i+=1
  return None
def stages(r):
  t0=r[0]; out={}
  req=first(lead,t0-0.05,lambda e:e[0]=='net' and e[3].startswith('r:') and e[3].split(':')[1]==str(api))
  if not req: return None
  out['Lreq']=req[1]-t0
  app=first(lead,req[1],lambda e:e[0]=='net' and e[3].startswith('w:') and int(e[3].split(':')[2]) in fraft)
  if app: out['Lapp']=app[1]-t0
  fs=first(lead,req[1],lambda e:e[0]=='fsync')
  if fs: out['Lfs']=(fs[1]-t0, fs[1]+fs[2]-t0)
  base=app[1] if app else req[1]
  for p in fol:
    nm=info[p]['name']
    rv=first(p,base-0.01,lambda e:e[0]=='net' and e[3].startswith('r:'))
    if not rv: continue
    f=first(p,rv[1],lambda e:e[0]=='fsync')
    ak=first(p,rv[1],lambda e:e[0]=='net' and e[3].startswith('w:'))
    out[nm]=(rv[1]-t0, (f[1]-t0, f[1]+f[2]-t0) if f else None, ak[1]-t0 if ak else None)
  acks=[]
  L,T=ev[lead]; i=bisect.bisect_left(T,base)
  while i<len(L) and L[i][1]<t0+r[1]+1 and len(acks)<2:
    e=L[i]; i+=1
    if e[0]=='net' and e[3].startswith('r:') and (e[3].split(':')[1]==str(lraft) or int(e[3].split(':')[2]) in fraft): acks.append(e[1]-t0)
  out['Lacks']=acks
  rs=first(lead,base,lambda e:e[0]=='net' and e[3].startswith('w:') and e[3].split(':')[1]==str(api))
  if rs: out['Lresp']=rs[1]-t0
  out['end']=r[1]
  gcs=[ (info[p]['name'],e[3],round(e[1]-t0,2),round(e[2],2)) for p in ev for e in ev[p][0][bisect.bisect_left(ev[p][1],t0-10):bisect.bisect_left(ev[p][1],t0+r[1])] if e[0]=='gc' and e[1]+e[2]>t0]
  if gcs: out['gc']=gcs
  return out
def fmt(o):
  def f(x):
    if x is None: return '-'
    if isinstance(x,tuple): return '('+','.join(f(y) for y in x)+')'
    if isinstance(x,list): return '['+','.join(f(y) for y in x)+']'
    if isinstance(x,float): return '%.2f'%x
    return str(x)
  return ' '.join(f'{k}={f(v)}' for k,v in o.items())
slow=[r for r in rec if r[1]>=thr]
print('thr',thr,'n',len(slow))
N = int(sys.argv[3]) if len(sys.argv) > 3 else 40
for r in slow[:N]:
  o=stages(r)
  if o: print(fmt(o))
print('--- categories over all slow writes')
from collections import Counter
C=Counter(); tot=0
for r in slow:
  o=stages(r)
  if not o: C['unmatched']+=1; continue
  tot+=1; cats=[]
  if o['Lreq']>0.8: cats.append('request reached leader late (>0.8ms)')
  lf=o.get('Lfs')
  if lf and lf[1]-lf[0]>1: cats.append('leader fsync >1ms')
  fs=[o[k] for k in o if k.startswith('F')]
  fsl=[f for f in fs if f[1] and f[1][1]-f[1][0]>1]
  if len(fs)==2 and len(fsl)==2: cats.append('both followers fsync >1ms')
  acks=[f[2] for f in fs if f[2] is not None]
  if acks and o['Lacks'] and o['Lacks'][0]-max(min(acks), lf[1] if lf else 0)>1 :
    cats.append('leader read ack >1ms after it was sent and its own fsync was done'+(' (leader gc)' if any(g[0]=='L' for g in o.get('gc',[])) else ''))
  if 'Lresp' in o and o['end']-o['Lresp']>1: cats.append('client got answer >1ms after leader wrote it')
  if o.get('gc'): cats.append('gc:'+'+'.join(sorted(set(g[0]+':'+g[1] for g in o['gc']))))
  for c in cats: C[c]+=1
  if not cats: C['none of these']+=1
print('slow writes',len(slow),'matched',tot)
for k,v in C.most_common(): print(' ',v,k)
print('--- leader-fsync-bound slow writes: could a follower quorum have committed earlier?')
for r in slow:
  o=stages(r); lf=o.get('Lfs')
  if not lf or lf[1]-lf[0]<=1: continue
  fs=[o[k] for k in o if k.startswith('F') and o[k][2] is not None]
  if len(fs)==2: print('  leader fsync end %.2f, followers acked %.2f %.2f, client got it %.2f' % (lf[1], fs[0][2], fs[1][2], o['end']))
